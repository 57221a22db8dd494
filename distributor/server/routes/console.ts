// The seller console: log in with the console password, then cards, codes, builds,
// payments and pay-back. Server-rendered, no script; every post carries a CSRF token.
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { SealError, sealCardFile } from '../../../card/index.js';
import { issueCard } from '../../seller/cards.js';
import { applyPaybacks, paybackCsv, paybackReport } from '../../seller/payback.js';
import { revokeBuild, revokeCard, revokeCode } from '../../seller/revoke.js';
import { EmailAddress, PersonName } from '../../validation.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';
import {
  cardsPage,
  codesPage,
  loginPage,
  paybackPage,
  paymentsPage,
  redemptionsPage,
  type CardListRow,
  type CodeListRow,
  type PaymentListRow,
  type RedemptionListRow,
} from '../views/console.js';
import { errorPage } from '../views/redeem.js';

const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const IssueForm = z.object({
  name: PersonName,
  email: EmailAddress,
  group: z.string().max(64).regex(/^(new|[A-Za-z0-9_-]+)$/),
  purchaserId: z.union([z.literal(''), z.string().max(64).regex(/^[A-Za-z0-9_-]+$/)]).default(''),
  moduleKind: z.enum(['keyfile', 'pkcs11']).default('keyfile'),
  codes: int(0, 1000),
  maxCodes: int(1, 100000),
  amount: int(0, 100_000_000),
  passphrase: z.string().min(8).max(1024),
  passphrase2: z.string().max(1024),
  _csrf: z.string(),
});
const idParam = /^[A-Za-z0-9_-]{1,64}$/;

export function consoleRoutes(ctx: Ctx): Router {
  const r = Router({ caseSensitive: true });
  const db = ctx.seller.db;
  const send = (res: Response, page: { s: string }, status = 200) => res.status(status).type('html').send(page.s);

  r.use('/console', (_req, res, next) => {
    noStore(res);
    next();
  });
  r.get('/console/login', (req, res) => send(res, loginPage(ctx.sec.csrfToken(req, res))));
  r.post('/console/login', form, ctx.sec.csrfProtect, (req, res) => {
    if (!ctx.limits.loginPerClient.hit(clientKey(req))) return send(res, loginPage(ctx.sec.csrfToken(req, res), 'Too many attempts. Wait a minute.'), 429);
    const pw = typeof req.body?.password === 'string' ? req.body.password : '';
    if (!ctx.sec.checkPassword(pw)) {
      ctx.log.warn({ event: 'console.login_failed' }, 'console login refused');
      return send(res, loginPage(ctx.sec.csrfToken(req, res), 'Wrong password.'), 401);
    }
    ctx.sec.startSession(req, res);
    ctx.log.info({ event: 'console.login' }, 'console login');
    res.redirect(303, '/console');
  });

  const authed = (req: Request, res: Response, next: NextFunction) => (ctx.sec.hasSession(req) ? next() : res.redirect(303, '/console/login'));
  r.post('/console/logout', form, ctx.sec.csrfProtect, (req, res) => {
    ctx.sec.endSession(req, res);
    res.redirect(303, '/console/login');
  });

  const listCards = (): CardListRow[] =>
    db
      .prepare(
        `SELECT c.*, p.name, p.email,
           (SELECT COUNT(*) FROM codes k WHERE k.card_id = c.id AND k.kind = 'code') AS codes,
           (SELECT COUNT(*) FROM codes k WHERE k.card_id = c.id AND k.state = 'unused') AS unused
         FROM cards c JOIN purchasers p ON p.id = c.purchaser_id ORDER BY c.issued_at DESC`,
      )
      .all() as CardListRow[];
  const groups = (): string[] => db.prepare('SELECT id FROM groups ORDER BY created_at').pluck().all() as string[];

  r.get('/console', authed, (req, res) => send(res, cardsPage(ctx.sec.csrfToken(req, res), listCards(), groups())));

  r.post('/console/cards', authed, form, ctx.sec.csrfProtect, async (req, res) => {
    const csrf = ctx.sec.csrfToken(req, res);
    const p = IssueForm.safeParse(req.body);
    const problem = !p.success
      ? p.error.issues.map((i) => `${String(i.path[0] ?? 'form')}: ${i.message}`).join('; ')
      : p.data.passphrase !== p.data.passphrase2
        ? 'the two passphrases differ'
        : p.data.codes > p.data.maxCodes
          ? 'more codes than the card may hold'
          : null;
    if (problem || !p.success) return send(res, cardsPage(csrf, listCards(), groups(), undefined, `The card was not issued: ${problem ?? 'bad form'}.`), 400);
    try {
      if (p.data.purchaserId && !db.prepare('SELECT 1 FROM purchasers WHERE id = ?').get(p.data.purchaserId))
        throw new SealError('USAGE', `unknown purchaser ${p.data.purchaserId}`);
      const issued = issueCard(ctx.seller, {
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
      applyPaybacks(ctx.seller, ctx.rules);
      ctx.log.info({ event: 'card.issued', cardId: issued.cardId, purchaserId: issued.purchaserId }, 'card issued');
      const file = await sealCardFile(issued.data, p.data.passphrase);
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Disposition', `attachment; filename="${issued.cardId}.card"`);
      res.send(file);
    } catch (err) {
      const d = describeError(err);
      send(res, errorPage('The card was not issued', d.message, false), d.status);
    }
  });

  const revoker = (what: string, fn: (id: string) => void, back: string) => (req: Request, res: Response) => {
    const id = String(req.params.id ?? '');
    try {
      if (!idParam.test(id)) throw new SealError('USAGE', `no such ${what}`);
      fn(id);
      ctx.log.info({ event: `${what}.revoked`, id }, `${what} revoked`);
      res.redirect(303, back);
    } catch (err) {
      const d = describeError(err);
      send(res, errorPage(`The ${what} was not revoked`, d.message, false), d.status);
    }
  };
  r.post('/console/cards/:id/revoke', authed, form, ctx.sec.csrfProtect, revoker('card', (id) => revokeCard(ctx.seller, id), '/console'));
  r.post('/console/codes/:id/revoke', authed, form, ctx.sec.csrfProtect, revoker('code', (id) => revokeCode(ctx.seller, id), '/console/codes'));
  r.post('/console/builds/:id/revoke', authed, form, ctx.sec.csrfProtect, revoker('build', (id) => revokeBuild(ctx.seller, id), '/console/redemptions'));

  r.get('/console/codes', authed, (req, res) => {
    const card = typeof req.query.card === 'string' && idParam.test(req.query.card) ? req.query.card : undefined;
    const state = typeof req.query.state === 'string' && ['unused', 'in_use', 'already_used', 'revoked'].includes(req.query.state) ? req.query.state : undefined;
    const where = [card ? 'card_id = @card' : '', state ? 'state = @state' : ''].filter(Boolean).join(' AND ');
    const rows = db
      .prepare(`SELECT * FROM codes ${where ? 'WHERE ' + where : ''} ORDER BY created_at DESC, serial LIMIT 1000`)
      .all({ ...(card ? { card } : {}), ...(state ? { state } : {}) }) as CodeListRow[];
    send(res, codesPage(ctx.sec.csrfToken(req, res), rows, { card, state }));
  });
  r.get('/console/redemptions', authed, (req, res) => {
    const rows = db.prepare('SELECT * FROM redemptions ORDER BY granted_at DESC LIMIT 1000').all() as RedemptionListRow[];
    send(res, redemptionsPage(ctx.sec.csrfToken(req, res), rows));
  });
  r.get('/console/payments', authed, (req, res) => {
    const rows = db
      .prepare('SELECT y.*, p.name FROM payments y JOIN purchasers p ON p.id = y.purchaser_id ORDER BY y.created_at DESC LIMIT 1000')
      .all() as PaymentListRow[];
    send(res, paymentsPage(ctx.sec.csrfToken(req, res), rows));
  });
  r.get('/console/payback', authed, (req, res) => {
    applyPaybacks(ctx.seller, ctx.rules);
    send(res, paybackPage(ctx.sec.csrfToken(req, res), paybackReport(ctx.seller), ctx.rules.currency, JSON.stringify(ctx.rules, null, 2)));
  });
  r.get('/console/payback.csv', authed, (_req, res) => {
    applyPaybacks(ctx.seller, ctx.rules);
    res.setHeader('Content-Disposition', 'attachment; filename="payback.csv"');
    res.type('text/csv').send(paybackCsv(paybackReport(ctx.seller), ctx.rules.currency));
  });
  return r;
}
