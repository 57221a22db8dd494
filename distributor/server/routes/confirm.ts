// The link mailed to a redeemer: GET shows a button, POST confirms. A GET alone never
// confirms, so a mail scanner that follows links does not confirm for anyone.
import express, { Router, type Request } from 'express';
import { profileCerts } from '../../../card/index.js';
import { confirmEmail, startConfirmation } from '../../seller/confirm.js';
import type { Grant } from '../../seller/redemption.js';
import { describeError, noStore, type Ctx } from '../context.js';
import { confirmPage, confirmedPage, errorPage } from '../views/redeem.js';

export const CONFIRM_PATH = '/confirm';

export function confirmRoutes(ctx: Ctx): Router {
  const r = Router({ caseSensitive: true });
  r.get(`${CONFIRM_PATH}/:token`, (req, res) => {
    noStore(res);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.type('html').send(confirmPage(ctx.sec.csrfToken(req, res), `${CONFIRM_PATH}/${req.params.token}`).s);
  });
  r.post(`${CONFIRM_PATH}/:token`, express.urlencoded({ extended: false, limit: '1kb', parameterLimit: 5 }), ctx.sec.csrfProtect, async (req, res) => {
    noStore(res);
    try {
      const { email } = await confirmEmail(ctx.seller, req.params.token as string);
      ctx.log.info({ event: 'email.confirmed' }, 'redeemer email confirmed');
      res.type('html').send(confirmedPage(email).s);
    } catch (err) {
      const d = describeError(err);
      res.status(d.status === 500 ? 500 : 410).type('html').send(errorPage('This link cannot be used', d.message, false).s);
    }
  });
  return r;
}

/** Mails the redeemer a confirmation link for a new grant; failures are logged, never shown. */
export async function mailConfirmation(ctx: Ctx, req: Request, g: Grant): Promise<void> {
  const mailer = ctx.mailer;
  if (!mailer || g.resumed) return;
  const token = await startConfirmation(ctx.seller, g.redemptionId);
  const base = ctx.publicUrl ?? `${req.protocol}://${req.get('host')}`;
  const { build } = profileCerts(g.profile);
  mailer
    .sendConfirmation({ to: build.redeemerEmail, link: `${base}${CONFIRM_PATH}/${token}`, inviter: { name: build.purchaserName, email: build.purchaserEmail } })
    .then(() => ctx.log.info({ event: 'mail.confirmation_sent', redemptionId: g.redemptionId }, 'confirmation mailed'))
    .catch((err: Error & { code?: string; responseCode?: number }) =>
      ctx.log.error({ event: 'mail.failed', redemptionId: g.redemptionId, code: err.code, responseCode: err.responseCode }, 'confirmation mail not sent'),
    );
}
