// The single-use download of a dedicated build. Its bytes are a pure function of the
// redemption's profile, so Range requests resume an interrupted download, also after
// a restart. The redemption completes (code → already_used, secrets wiped) once a
// response carrying the last byte has been handed to the network in full.
import { Router, type Response } from 'express';
import { completeRedemption, resumeRedemption } from '../../seller/redemption.js';
import { clientKey, describeError, noStore, type Ctx } from '../context.js';
import { errorPage } from '../views/redeem.js';
import { xpiName } from './redeem.js';

export const XPI_TYPE = 'application/x-xpinstall';

/** One satisfiable byte range, 'all', or null when unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'all' | null {
  if (!header) return 'all';
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'all'; // several ranges or junk: send it whole
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return null;
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return null;
  return { start, end };
}

export function downloadRoutes(ctx: Ctx): Router {
  // Case-sensitive: /DOWNLOAD/… must not reach a handler that the log redaction does not know.
  const r = Router({ caseSensitive: true });
  // Recently stamped builds, so that a resumed or repeated request does not stamp again.
  const cache = new Map<string, { parts: Uint8Array[]; etag: string }>();
  const stamped = (id: string, make: () => Uint8Array[]) => {
    let c = cache.get(id);
    if (!c) {
      // The bytes are a pure function of template and redemption: that pair is a strong ETag.
      c = { parts: make(), etag: `"${ctx.template.id}-${id}"` };
      if (cache.size >= 256) cache.delete(cache.keys().next().value!);
      cache.set(id, c);
    }
    return c;
  };
  const gone = (res: Response, status: number, message: string) =>
    res.status(status).type('html').send(errorPage('This download link cannot be used', message).s);

  r.get('/download/:token', async (req, res) => {
    noStore(res);
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!ctx.limits.downloadPerClient.hit(clientKey(req))) return gone(res, 429, 'Too many downloads from your network. Wait a minute and try again.');
    const token = req.params.token;
    const invalid = 'This download link is no longer valid: it was used or it has expired. Ask the person who gave you the code.';
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return gone(res, 404, invalid);
    let grant: Awaited<ReturnType<typeof resumeRedemption>>;
    try {
      grant = await resumeRedemption(ctx.seller, token);
    } catch (err) {
      const d = describeError(err);
      if (d.status !== 500) return gone(res, 410, invalid);
      // The database did not answer: the link may well be good, so say to try again.
      ctx.log.error({ err }, 'download lookup failed');
      return gone(res, 503, 'The download cannot start right now. Wait a moment, then open the link again.');
    }
    const { parts, etag } = stamped(grant.redemptionId, () => ctx.template.stampParts(grant.profile));
    const size = parts.reduce((n, p) => n + p.length, 0);
    // A Range with an If-Range naming other bytes gets the whole file, per RFC 9110.
    const ifRange = req.headers['if-range'];
    const range = ifRange && ifRange !== etag ? 'all' : parseRange(req.headers.range, size);
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Content-Type', XPI_TYPE);
    res.setHeader('Content-Disposition', `attachment; filename="${xpiName(grant.profile.buildId)}"`);
    if (range === null) {
      res.setHeader('Content-Range', `bytes */${size}`);
      return res.status(416).end();
    }
    const { start, end } = range === 'all' ? { start: 0, end: size - 1 } : range;
    if (range !== 'all') {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
    res.setHeader('Content-Length', String(end - start + 1));
    if (end === size - 1 && req.method !== 'HEAD')
      res.on('finish', () => {
        completeRedemption(ctx.seller, grant.redemptionId).then(
          () => {
            cache.delete(grant.redemptionId);
            ctx.log.info({ event: 'redemption.completed', redemptionId: grant.redemptionId, serial: grant.serial }, 'download complete');
          },
          // Not recorded (the database was away): the window stays open until it runs out,
          // and the sweep then settles the code.
          (err) => ctx.log.error({ err, redemptionId: grant.redemptionId }, 'could not record a completed download'),
        );
      });
    if (req.method === 'HEAD') return res.end();
    // Write the slices of the parts that fall in [start, end], without copying; corked,
    // so that headers, prefix and tail leave in one writev rather than one per part.
    res.cork();
    let at = 0;
    for (const p of parts) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end + 1 - at, p.length);
      if (from < to) res.write(Buffer.from(p.buffer, p.byteOffset + from, to - from));
      at += p.length;
    }
    res.end();
  });
  return r;
}
