// The JSON API for cards, builds, gateways and add-ons. Requests are authenticated by
// a signed challenge, not by cookies, so CSRF does not apply; bodies are small.
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { sha256 } from '@noble/hashes/sha2.js';
import { SealError, signStatus, toHex, utf8 } from '../../../card/index.js';
import { API, ChallengeRequest, ChargeRequest, CodeStatesRequest, CopyRightRequest, PairRequest, StatementRequest } from '../../protocol.js';
import { codeStates } from '../../seller/code-states.js';
import { cardStatement, chargeCard, grantCopyRight, issueChallenge, pairCards } from '../../seller/online.js';
import { statusList } from '../../seller/revoke.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';

export const STATUS_MAX_AGE_S = 60;

export function apiRoutes(ctx: Ctx): Router {
  const r = Router({ caseSensitive: true });
  const json = express.json({ limit: '16kb' });

  const fail = (req: Request, res: Response, err: unknown) => {
    const d = describeError(err);
    if (d.status === 500) ctx.log.error({ err, path: req.path }, 'api failure');
    res.status(d.status).json({ error: { code: d.code, message: d.message } });
  };
  /** Parses the body, applies the limits, runs the handler, maps typed errors. */
  const handle =
    <S extends z.ZodType>(schema: S, subjectOf: (b: z.infer<S>) => string, fn: (b: z.infer<S>) => Promise<unknown>) =>
    async (req: Request, res: Response) => {
      noStore(res);
      try {
        if (!ctx.limits.apiPerClient.hit(clientKey(req))) return res.status(429).json({ error: { code: 'RATE_LIMITED', message: 'too many requests; wait a minute' } });
        const p = schema.safeParse(req.body);
        if (!p.success) throw new SealError('USAGE', `bad request: ${p.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
        // Card ids are in every sealed file: a limit on the subject alone would let anyone
        // lock a card out of its own requests. The subject is counted per client.
        if (!ctx.limits.apiPerSubject.hit(`${clientKey(req)}\0${subjectOf(p.data)}`))
          return res.status(429).json({ error: { code: 'RATE_LIMITED', message: 'too many requests for this card; wait a minute' } });
        res.json(await fn(p.data));
      } catch (err) {
        fail(req, res, err);
      }
    };

  // Challenges cost a row each and anyone may ask: limited per client, never per card.
  const challengeLimit = (req: Request, res: Response, next: () => void) =>
    ctx.limits.challengePerClient.hit(clientKey(req)) ? next() : res.status(429).json({ error: { code: 'RATE_LIMITED', message: 'too many challenges from your network; wait a minute' } });
  r.post(`${API}/challenge`, challengeLimit, json, handle(ChallengeRequest, (b) => b.subjectId, (b) => issueChallenge(ctx.seller, b.purpose, b.subjectId)));
  r.post(`${API}/charge`, json, handle(ChargeRequest, (b) => b.subjectId, async (b) => {
    const out = await chargeCard(ctx.seller, ctx.rules, { challengeId: b.challengeId, cardId: b.subjectId, count: b.count, signature: b.signature });
    ctx.log.info({ event: 'card.charged', cardId: b.subjectId, count: b.count, paymentId: out.paymentId }, 'codes sold online');
    return out;
  }));
  r.post(`${API}/pair`, json, handle(PairRequest, (b) => b.subjectId, async (b) => {
    const out = await pairCards(ctx.seller, { challengeId: b.challengeId, cardId: b.subjectId, withCardId: b.withCardId, signature: b.signature });
    ctx.log.info({ event: 'cards.paired', pairId: out.pairId, cardA: out.cardA, cardB: out.cardB }, 'pair key made');
    return out;
  }));
  r.post(`${API}/statement`, json, handle(StatementRequest, (b) => b.subjectId, (b) => cardStatement(ctx.seller, ctx.rules, { challengeId: b.challengeId, cardId: b.subjectId, signature: b.signature })));
  r.post(`${API}/code-states`, json, handle(CodeStatesRequest, (b) => b.subjectId, (b) => codeStates(ctx.seller, { challengeId: b.challengeId, cardId: b.subjectId, signature: b.signature })));
  r.post(`${API}/copy-right`, json, handle(CopyRightRequest, (b) => b.subjectId, async (b) => {
    const out = await grantCopyRight(ctx.seller, { challengeId: b.challengeId, buildId: b.subjectId, copies: b.copies, signature: b.signature });
    ctx.log.info({ event: 'copy-right.granted', buildId: b.subjectId, serial: out.serial, copies: out.copies }, 'copy code issued');
    return out;
  }));

  // Gateways poll this: the ETag names the revocations (not the signing time), so an
  // unchanged list costs a 304 and no signature.
  r.get(`${API}/status`, async (req, res) => {
    try {
      const list = await statusList(ctx.seller);
      const etag = `"${toHex(sha256(utf8(JSON.stringify(list.revoked)))).slice(0, 32)}"`;
      res.setHeader('Cache-Control', `public, max-age=${STATUS_MAX_AGE_S}, must-revalidate`);
      // Installed add-ons fetch it from their own origin; it is public and signed.
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('ETag', etag);
      if (req.headers['if-none-match'] === etag) return res.status(304).end();
      res.json(signStatus(ctx.seller.issuerSecret(), list));
    } catch (err) {
      fail(req, res, err);
    }
  });
  r.use(API, (_req, res) => res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such API endpoint' } }));
  return r;
}
