// The redemption page (Fig. 26): a code and an email in, a single-use download link
// out. The code never appears in a URL; the link carries a random token only.
import express, { Router } from 'express';
import { z } from 'zod';
import { SealError, isSealError, parseCode, profileCerts, sellerPart } from '../../../card/index.js';
import { grantRedemption } from '../../seller/redemption.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';
import { downloadPage, errorPage, redeemPage } from '../views/redeem.js';

const Form = z.object({ code: z.string().max(64), email: z.string().max(254), _csrf: z.string().max(100) });
export const xpiName = (buildId: string): string => `sealcode-${buildId}.xpi`;

export function redeemRoutes(ctx: Ctx): Router {
  const r = Router();
  r.get('/', (req, res) => {
    noStore(res);
    res.type('html').send(redeemPage(ctx.sec.csrfToken(req, res)).s);
  });
  r.post('/redeem', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }), ctx.sec.csrfProtect, (req, res) => {
    noStore(res);
    const again = (status: number, message: string, email?: string) =>
      res.status(status).type('html').send(redeemPage(ctx.sec.csrfToken(req, res), { error: message, email }).s);
    if (!ctx.limits.redeemPerClient.hit(clientKey(req))) return again(429, 'Too many attempts from your network. Wait a minute and try again.');
    const form = Form.safeParse(req.body);
    if (!form.success) return again(400, 'Type the code and your email address.');
    // A blind code's part after "+" is for the holder's add-on only: dropped here unread.
    const code = sellerPart(form.data.code);
    try {
      // The per-serial limit slows guessing the secret of one known serial.
      let serial: string;
      try {
        serial = parseCode(code).serial;
      } catch {
        throw new SealError('BAD_CODE', 'this code is not valid: check it and type it again');
      }
      if (!ctx.limits.redeemPerSerial.hit(serial)) return again(429, 'Too many attempts for this code. Wait a minute and try again.', form.data.email);
      const g = grantRedemption(ctx.seller, {
        code,
        email: form.data.email,
        resumeWindowMs: ctx.resumeWindowMs,
        distributorUrl: ctx.publicUrl,
      });
      ctx.log.info({ event: 'redemption.granted', redemptionId: g.redemptionId, buildId: g.buildId, serial: g.serial }, 'download granted');
      const copy = profileCerts(g.profile).build.copyOf !== '';
      res.type('html').send(downloadPage({ token: g.token, fileName: xpiName(g.buildId), expiresAt: g.tokenExpiresAt, buildId: g.buildId, copy }).s);
    } catch (err) {
      const d = describeError(err);
      if (d.status === 500) ctx.log.error({ err }, 'redemption failed');
      if (isSealError(err, 'BAD_CODE') || isSealError(err, 'USAGE')) return again(400, d.message, form.data.email);
      res.status(isSealError(err, 'REFUSED') ? 409 : d.status).type('html').send(errorPage('This code cannot be used', d.message).s);
    }
  });
  return r;
}

export { errorPage };
