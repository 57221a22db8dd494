// The seller console: log in with the console password, then cards, codes, builds,
// payments and pay-back. Server-rendered, no script; every post carries a CSRF token
// and ends in a redirect to a page that says what happened; revocations are confirmed
// on a page of their own first.
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { sealCardFile } from '../../../card/index.js';
import { issueCard } from '../../seller/cards.js';
import { applyPaybacks, paybackCsv, paybackReport } from '../../seller/payback.js';
import { revokeBuild, revokeCard, revokeCode } from '../../seller/revoke.js';
import { EmailAddress, PersonName, hasControlChars } from '../../validation.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';
import { flashes } from '../flash.js';
import { ISSUED_COOKIE, dropIssuedView, getIssuedView, putIssuedView } from '../issued-view.js';
import { serverKey } from '../secrets.js';
import { cookies } from '../security.js';
import {
  cardsPage,
  codesPage,
  confirmPage,
  consoleErrorPage,
  issuedGonePage,
  issuedPage,
  loginPage,
  paybackPage,
  paymentsPage,
  redemptionsPage,
  type CardListRow,
  type CodeListRow,
  type GroupRow,
  type IssueField,
  type IssueFormState,
  type PaymentListRow,
  type PurchaserRow,
  type RedemptionListRow,
} from '../views/console.js';
import { html } from '../views/html.js';

const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const IssueForm = z.object({
  name: PersonName,
  email: EmailAddress,
  group: z.string().max(64).regex(/^(new|[A-Za-z0-9_-]+)$/),
  purchaserId: z.union([z.literal(''), z.string().max(64).regex(/^[A-Za-z0-9_-]+$/)]).default(''),
  // Only key files are real so far; a token kind returns when it does more than record a label.
  moduleKind: z.literal('keyfile').default('keyfile'),
  codes: int(0, 1000),
  maxCodes: int(1, 100000),
  amount: int(0, 100_000_000),
  passphrase: z.string().min(8).max(1024),
  passphrase2: z.string().max(1024),
  _csrf: z.string(),
});
/** What to tell the seller about each field, in place of the validator's own words. */
const FIELD_HELP: Record<IssueField | 'moduleKind', string> = {
  name: 'Type the purchaser’s name (at most 200 characters).',
  email: 'Type the purchaser’s email address, like name@example.com.',
  group: 'Choose a group from the list.',
  purchaserId: 'Choose a purchaser from the list.',
  moduleKind: 'Only passphrase-sealed key-file cards can be issued.',
  codes: 'Give the number of codes on the card: a whole number from 0 to 1000.',
  maxCodes: 'Give the most codes the card may ever hold: a whole number from 1 to 100000.',
  amount: 'Give the amount paid in cents: a whole number, 0 or more.',
  passphrase: 'Choose a passphrase of at least 8 characters.',
  passphrase2: 'Type the same passphrase twice.',
};
const KEPT: IssueField[] = ['name', 'email', 'purchaserId', 'group', 'codes', 'maxCodes', 'amount'];
const idParam = /^[A-Za-z0-9_-]{1,64}$/;

export async function consoleRoutes(ctx: Ctx): Promise<Router> {
  const r = Router({ caseSensitive: true });
  const db = ctx.seller.db;
  const flash = flashes(await serverKey(ctx.seller, 'flash'));
  const send = (res: Response, page: { s: string }, status = 200) => res.status(status).type('html').send(page.s);
  const csrf = (req: Request, res: Response) => ctx.sec.csrfToken(req, res);
  const done = (req: Request, res: Response, message: string, to: string) => {
    flash.set(req, res, message);
    res.redirect(303, to);
  };
  const issuedCookie = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path: '/console' });

  r.use('/console', (_req, res, next) => {
    noStore(res);
    next();
  });
  r.get('/console/login', (req, res) => send(res, loginPage(csrf(req, res))));
  r.post('/console/login', form, ctx.sec.csrfProtect, async (req, res) => {
    if (!ctx.limits.loginPerClient.hit(clientKey(req))) return send(res, loginPage(csrf(req, res), 'Too many attempts. Wait a minute.'), 429);
    const pw = typeof req.body?.password === 'string' ? req.body.password : '';
    if (!ctx.sec.checkPassword(pw)) {
      ctx.log.warn({ event: 'console.login_failed' }, 'console login refused');
      return send(res, loginPage(csrf(req, res), 'Wrong password.'), 401);
    }
    await ctx.sec.startSession(req, res);
    ctx.log.info({ event: 'console.login' }, 'console login');
    res.redirect(303, '/console');
  });

  const authed = async (req: Request, res: Response, next: NextFunction) => ((await ctx.sec.hasSession(req)) ? next() : res.redirect(303, '/console/login'));
  r.post('/console/logout', form, ctx.sec.csrfProtect, async (req, res) => {
    // A pending card view does not outlive the session that made it.
    await dropIssuedView(ctx.seller, cookies(req)[ISSUED_COOKIE]);
    res.clearCookie(ISSUED_COOKIE, issuedCookie(req));
    await ctx.sec.endSession(req, res);
    res.redirect(303, '/console/login');
  });

  const listCards = (): Promise<CardListRow[]> =>
    db.all<CardListRow>(
      `SELECT c.*, p.name, p.email,
         (SELECT COUNT(*) FROM codes k WHERE k.card_id = c.id AND k.kind = 'code') AS codes,
         (SELECT COUNT(*) FROM codes k WHERE k.card_id = c.id AND k.state = 'unused') AS unused
       FROM cards c JOIN purchasers p ON p.id = c.purchaser_id ORDER BY c.issued_at DESC`,
    );
  const listGroups = async (): Promise<GroupRow[]> => {
    const members = await db.all<{ group_id: string; name: string; email: string }>(
      'SELECT DISTINCT c.group_id, p.name, p.email FROM cards c JOIN purchasers p ON p.id = c.purchaser_id ORDER BY p.name',
    );
    return (await db.column<string>('SELECT id FROM groups ORDER BY created_at')).map((id) => ({
      id,
      members: members.filter((m) => m.group_id === id),
    }));
  };
  const listPurchasers = (): Promise<PurchaserRow[]> => db.all<PurchaserRow>('SELECT id, name, email FROM purchasers ORDER BY name');
  const cards = async (req: Request, res: Response, form?: IssueFormState, status = 200) =>
    send(
      res,
      cardsPage(csrf(req, res), {
        cards: await listCards(),
        groups: await listGroups(),
        purchasers: await listPurchasers(),
        notice: flash.take(req, res),
        pending: (await getIssuedView(ctx.seller, cookies(req)[ISSUED_COOKIE]))?.sheet,
        form,
      }),
      status,
    );

  r.get('/console', authed, (req, res) => cards(req, res));

  r.post('/console/cards', authed, form, ctx.sec.csrfProtect, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = Object.fromEntries(KEPT.map((k) => [k, typeof body[k] === 'string' ? (body[k] as string).slice(0, 300) : ''])) as IssueFormState['values'];
    const errors: IssueFormState['errors'] = {};
    const p = IssueForm.safeParse(body);
    if (!p.success)
      for (const i of p.error.issues) {
        const k = String(i.path[0] ?? 'name') as IssueField | 'moduleKind';
        // A name or email with control characters is told so; any other problem gets the field's help.
        const raw = body[k];
        if (k in FIELD_HELP) errors[k] ??= (k === 'name' || k === 'email') && typeof raw === 'string' && hasControlChars(raw) ? i.message : FIELD_HELP[k];
      }
    else {
      if (p.data.passphrase !== p.data.passphrase2) errors.passphrase2 = 'The two passphrases differ: type the same passphrase twice.';
      if (p.data.codes > p.data.maxCodes) errors.codes = `The card may hold at most ${p.data.maxCodes} codes: give fewer codes, or raise the most it may hold.`;
      if (p.data.group !== 'new' && !(await db.get('SELECT 1 FROM groups WHERE id = ?', p.data.group))) errors.group = 'That group does not exist: choose one from the list.';
      if (p.data.purchaserId && !(await db.get('SELECT 1 FROM purchasers WHERE id = ?', p.data.purchaserId)))
        errors.purchaserId = 'That purchaser does not exist: choose one from the list.';
    }
    if (!p.success || Object.keys(errors).length) return cards(req, res, { values, errors }, 400);
    try {
      const issued = await issueCard(ctx.seller, {
        purchaserId: p.data.purchaserId || undefined,
        moduleKind: p.data.moduleKind,
        name: p.data.name,
        email: p.data.email,
        group: p.data.group,
        codes: p.data.codes,
        maxCodes: p.data.maxCodes,
        payment: { amountCents: p.data.amount, currency: ctx.rules.currency, reference: 'console' },
        distributorUrl: ctx.publicUrl,
      });
      await applyPaybacks(ctx.seller, ctx.rules);
      ctx.log.info({ event: 'card.issued', cardId: issued.cardId, purchaserId: issued.purchaserId }, 'card issued');
      const view = await putIssuedView(ctx.seller, {
        fileName: `${issued.cardId}.card`,
        cardFile: await sealCardFile(issued.data, p.data.passphrase),
        sheet: {
          cardId: issued.cardId,
          purchaser: { name: issued.data.purchaser.name, email: issued.data.purchaser.email },
          url: ctx.publicUrl ?? `${req.protocol}://${req.get('host') ?? '127.0.0.1'}/`,
          codes: issued.data.codes.map((c) => ({ serial: c.serial, code: c.code, expires: c.expires })),
        },
      });
      res.cookie(ISSUED_COOKIE, view.id, { ...issuedCookie(req), maxAge: view.until - Date.now() });
      res.redirect(303, '/console/issued');
    } catch (err) {
      const d = describeError(err);
      if (d.status === 500) ctx.log.error({ err }, 'issuing a card failed');
      send(res, consoleErrorPage(csrf(req, res), 'The card was not issued', `The card was not issued: ${d.message}.`, { href: '/console', label: 'Back to the cards' }, 'cards'), d.status);
    }
  });

  r.get('/console/issued', authed, async (req, res) => {
    const v = await getIssuedView(ctx.seller, cookies(req)[ISSUED_COOKIE]);
    if (!v) return send(res, issuedGonePage(csrf(req, res)), 410);
    send(res, issuedPage(csrf(req, res), v));
  });
  r.get('/console/issued/card', authed, async (req, res) => {
    const v = await getIssuedView(ctx.seller, cookies(req)[ISSUED_COOKIE]);
    if (!v) return send(res, issuedGonePage(csrf(req, res)), 410);
    res.setHeader('Content-Disposition', `attachment; filename="${v.fileName}"`);
    res.type('application/json').send(v.cardFile);
  });
  r.post('/console/issued/done', authed, form, ctx.sec.csrfProtect, async (req, res) => {
    const id = cookies(req)[ISSUED_COOKIE];
    const v = await getIssuedView(ctx.seller, id);
    await dropIssuedView(ctx.seller, id);
    res.clearCookie(ISSUED_COOKIE, issuedCookie(req));
    done(req, res, v ? `Card ${v.sheet.cardId} of ${v.sheet.purchaser.name} is in the list below; its codes are no longer kept on the server.` : 'Nothing was pending.', '/console');
  });

  // Revocation: GET asks, POST acts.
  interface Revocable {
    what: 'card' | 'code' | 'build';
    section: 'cards' | 'codes' | 'redemptions';
    back: string;
    describe: (id: string) => Promise<{ text: ReturnType<typeof html>; revoked: boolean } | undefined>;
    consequence: string;
    revoke: (id: string) => Promise<void>;
  }
  const revocable: Revocable[] = [
    {
      what: 'card',
      section: 'cards',
      back: '/console',
      describe: async (id) => {
        const c = await db.get<{ revoked_at: number | null; name: string; email: string }>(
          'SELECT c.revoked_at, p.name, p.email FROM cards c JOIN purchasers p ON p.id = c.purchaser_id WHERE c.id = ?',
          id,
        );
        return c && { text: html`Revoke card <code class="id">${id}</code> of <strong>${c.name}</strong> &lt;${c.email}&gt;?`, revoked: c.revoked_at !== null };
      },
      consequence: 'Its codes can no longer be redeemed, it can make no more online requests, and the signed status list names it, so software that checks the list refuses what it seals. This cannot be undone.',
      revoke: (id) => revokeCard(ctx.seller, id),
    },
    {
      what: 'code',
      section: 'codes',
      back: '/console/codes',
      describe: async (id) => {
        const c = await db.get<{ state: string; card_id: string }>('SELECT state, card_id FROM codes WHERE serial = ?', id);
        return c && { text: html`Revoke code <code>${id}</code> of card <code class="id">${c.card_id}</code>?`, revoked: c.state === 'revoked' };
      },
      consequence: 'Nobody can redeem this code any more, and the signed status list names it, so software that checks the list refuses the add-ons built from it. This cannot be undone.',
      revoke: (id) => revokeCode(ctx.seller, id),
    },
    {
      what: 'build',
      section: 'redemptions',
      back: '/console/redemptions',
      describe: async (id) => {
        const b = await db.get<{ redeemer_email: string; revoked_at: number | null }>('SELECT redeemer_email, revoked_at FROM redemptions WHERE build_id = ?', id);
        return b && { text: html`Revoke the add-on <code class="id">${id}</code> of <strong>${b.redeemer_email}</strong>?`, revoked: b.revoked_at !== null };
      },
      consequence: 'Its download link closes, it can make no more online requests, and the signed status list names it, so software that checks the list refuses what it seals. This cannot be undone.',
      revoke: (id) => revokeBuild(ctx.seller, id),
    },
  ];
  for (const k of revocable) {
    const path = `/console/${k.what}s/:id/revoke`;
    const found = async (req: Request, res: Response) => {
      const id = String(req.params.id ?? '');
      const d = idParam.test(id) ? await k.describe(id) : undefined;
      if (!d) send(res, consoleErrorPage(csrf(req, res), `No such ${k.what}`, `There is no ${k.what} with this id.`, { href: k.back, label: 'Back to the list' }, k.section), 404);
      else if (d.revoked) done(req, res, `That ${k.what} was already revoked.`, k.back);
      else return { id, d };
      return undefined;
    };
    r.get(path, authed, async (req, res) => {
      const f = await found(req, res);
      if (f)
        send(res, confirmPage(csrf(req, res), { title: `Revoke this ${k.what}?`, what: f.d.text, consequence: k.consequence, action: `/console/${k.what}s/${f.id}/revoke`, button: `Revoke the ${k.what}`, cancel: k.back, section: k.section }));
    });
    r.post(path, authed, form, ctx.sec.csrfProtect, async (req, res) => {
      const f = await found(req, res);
      if (!f) return;
      await k.revoke(f.id);
      ctx.log.info({ event: `${k.what}.revoked`, id: f.id }, `${k.what} revoked`);
      done(req, res, `The ${k.what} ${f.id} was revoked.`, k.back);
    });
  }

  r.get('/console/codes', authed, async (req, res) => {
    const card = typeof req.query.card === 'string' && idParam.test(req.query.card) ? req.query.card : undefined;
    const state = typeof req.query.state === 'string' && ['unused', 'in_use', 'already_used', 'revoked'].includes(req.query.state) ? req.query.state : undefined;
    const where = [card ? 'card_id = ?' : '', state ? 'state = ?' : ''].filter(Boolean).join(' AND ');
    const params = [card, state].filter((v): v is string => v !== undefined);
    const rows = await db.all<CodeListRow>(`SELECT * FROM codes ${where ? 'WHERE ' + where : ''} ORDER BY created_at DESC, serial LIMIT 1000`, ...params);
    send(res, codesPage(csrf(req, res), rows, { card, state }, flash.take(req, res)));
  });
  r.get('/console/redemptions', authed, async (req, res) => {
    const rows = await db.all<RedemptionListRow>('SELECT * FROM redemptions ORDER BY granted_at DESC LIMIT 1000');
    send(res, redemptionsPage(csrf(req, res), rows, flash.take(req, res)));
  });
  r.get('/console/payments', authed, async (req, res) => {
    const rows = await db.all<PaymentListRow>('SELECT y.*, p.name FROM payments y JOIN purchasers p ON p.id = y.purchaser_id ORDER BY y.created_at DESC LIMIT 1000');
    send(res, paymentsPage(csrf(req, res), rows));
  });
  r.get('/console/payback', authed, async (req, res) => {
    await applyPaybacks(ctx.seller, ctx.rules);
    send(res, paybackPage(csrf(req, res), await paybackReport(ctx.seller), ctx.rules));
  });
  r.get('/console/payback.csv', authed, async (_req, res) => {
    await applyPaybacks(ctx.seller, ctx.rules);
    res.setHeader('Content-Disposition', 'attachment; filename="payback.csv"');
    res.type('text/csv').send(paybackCsv(await paybackReport(ctx.seller), ctx.rules.currency));
  });
  return r;
}
