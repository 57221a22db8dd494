// The redemption page (Fig. 26): a code and an email in, a single-use download link
// out. The code never appears in a URL; the link carries a random token only. Until the
// download is done, the same code with the same email (or from the same browser) shows
// the same link again, so a reload or a second try never strands anyone.
import express, { Router } from 'express';
import { z } from 'zod';
import { SealError, isSealError, parseCode, profileCerts, sellerPart } from '../../../card/index.js';
import { grantRedemption } from '../../seller/redemption.js';
import { mailConfirmation } from './confirm.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';
import { downloadPage, errorPage, redeemPage } from '../views/redeem.js';

const Form = z.object({ code: z.string().max(64), email: z.string().max(254), _csrf: z.string().max(100) });
export const xpiName = (buildId: string): string => `sealcode-${buildId}.xpi`;

export function redeemRoutes(ctx: Ctx): Router {
  const r = Router({ caseSensitive: true });
  // /redeem too: hand-over texts may name it, and a reload of a refused post lands there.
  r.get(['/', '/redeem'], (req, res) => {
    noStore(res);
    res.type('html').send(redeemPage(ctx.sec.csrfToken(req, res)).s);
  });
  r.post('/redeem', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }), ctx.sec.csrfProtect, async (req, res) => {
    noStore(res);
    // A blind part typed with the code is never echoed back: only the seller's part is kept.
    const typed = { code: typeof req.body?.code === 'string' ? sellerPart(req.body.code.slice(0, 64)) : '', email: typeof req.body?.email === 'string' ? req.body.email.slice(0, 254) : '' };
    // Every refusal shows the form again with what was typed, and says what to do.
    const again = (status: number, message: string) => res.status(status).type('html').send(redeemPage(ctx.sec.csrfToken(req, res), { error: message, ...typed }).s);
    if (!ctx.limits.redeemPerClient.hit(clientKey(req))) return again(429, 'Too many attempts from your network. Wait a minute, then try again.');
    const form = Form.safeParse(req.body);
    if (!form.success) return again(400, 'Type the code you were given and your email address, then press the button.');
    // A blind code's part after "+" is for the holder's add-on only: dropped here unread.
    const code = sellerPart(form.data.code);
    try {
      // The per-serial limit slows guessing the secret of one known serial.
      let serial: string;
      try {
        serial = parseCode(code).serial;
      } catch {
        throw new SealError('BAD_CODE', 'This code is not valid. Check it against what you were given and type it again; dashes and upper or lower case do not matter.');
      }
      if (!ctx.limits.redeemPerSerial.hit(serial)) return again(429, 'Too many attempts for this code. Wait a minute, then try again.');
      const g = await grantRedemption(ctx.seller, {
        code,
        email: form.data.email,
        visitor: ctx.sec.visitor(req, res),
        resumeWindowMs: ctx.resumeWindowMs,
        distributorUrl: ctx.publicUrl,
      });
      await mailConfirmation(ctx, req, g);
      ctx.log.info({ event: g.resumed ? 'redemption.shown_again' : 'redemption.granted', redemptionId: g.redemptionId, buildId: g.buildId, serial: g.serial }, g.resumed ? 'download shown again' : 'download granted');
      const { build } = profileCerts(g.profile);
      res.type('html').send(
        downloadPage({
          token: g.token,
          fileName: xpiName(g.buildId),
          expiresAt: g.tokenExpiresAt,
          buildId: g.buildId,
          copy: build.copyOf !== '',
          inviter: { name: build.purchaserName, email: build.purchaserEmail },
        }).s,
      );
    } catch (err) {
      const d = describeError(err);
      if (d.status === 500) ctx.log.error({ err }, 'redemption failed');
      again(isSealError(err, 'BAD_CODE') || isSealError(err, 'USAGE') ? 400 : isSealError(err, 'REFUSED') ? 409 : d.status, d.status === 500 ? 'Something went wrong on our side. Wait a moment, then try again.' : d.message);
    }
  });
  return r;
}

export { errorPage };
