// Cookies, CSRF tokens, the console session, rate limits. Cookie values are signed
// with a key from the database; every secret comparison is constant-time.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { equalBytes, utf8 } from '../../card/index.js';

export const CSRF_COOKIE = 'sc_csrf';
export const SESSION_COOKIE = 'sc_session';
export const SESSION_MS = 8 * 60 * 60 * 1000;

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const eqStr = (a: string, b: string): boolean => equalBytes(sha256(utf8(a)), sha256(utf8(b)));

export function cookies(req: Request): Record<string, string | undefined> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!(k in out)) out[k] = part.slice(i + 1).trim();
  }
  return out;
}

export interface Security {
  /** The CSRF token for this browser's forms; sets the CSRF cookie when missing. */
  csrfToken(req: Request, res: Response): string;
  /** Refuses state-changing form posts without a matching token (403). */
  csrfProtect: RequestHandler;
  startSession(req: Request, res: Response): void;
  endSession(res: Response): void;
  hasSession(req: Request): boolean;
  checkPassword(given: string): boolean;
}

export function security(key: Uint8Array, consolePassword: string | undefined, onRefused: (req: Request, res: Response, status: number, msg: string) => void): Security {
  const mac = (label: string, v: string): string => b64u(hmac(sha256, key, utf8(`${label}\0${v}`)));
  const cookieOpts = (req: Request, path = '/') => ({ httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path });
  const csrfFor = (v: string): string => mac('csrf', v);
  const pending = new WeakMap<Request, string>();
  return {
    csrfToken(req, res) {
      let v = cookies(req)[CSRF_COOKIE] ?? pending.get(req);
      if (!v || !/^[A-Za-z0-9_-]{43}$/.test(v)) {
        v = b64u(randomBytes(32));
        pending.set(req, v);
        res.cookie(CSRF_COOKIE, v, cookieOpts(req));
      }
      return csrfFor(v);
    },
    csrfProtect(req: Request, res: Response, next: NextFunction) {
      const v = cookies(req)[CSRF_COOKIE];
      const given = typeof req.body?._csrf === 'string' ? req.body._csrf : '';
      // Browsers send Origin on cross-site posts; a foreign one is refused outright.
      const origin = req.headers.origin;
      const foreign = origin !== undefined && origin !== 'null' && new URL(origin).host !== req.headers.host;
      if (!v || !given || foreign || !eqStr(csrfFor(v), given)) return onRefused(req, res, 403, 'This form has expired or did not come from this site. Reload the page and try again.');
      next();
    },
    startSession(req, res) {
      const exp = String(Date.now() + SESSION_MS);
      res.cookie(SESSION_COOKIE, `${exp}.${mac('session', exp)}`, { ...cookieOpts(req, '/console'), maxAge: SESSION_MS });
    },
    endSession(res) {
      res.clearCookie(SESSION_COOKIE, { path: '/console' });
    },
    hasSession(req) {
      const v = cookies(req)[SESSION_COOKIE];
      const m = v && /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(v);
      return !!m && eqStr(mac('session', m[1]!), m[2]!) && Number(m[1]) > Date.now();
    },
    checkPassword(given) {
      return consolePassword !== undefined && consolePassword.length > 0 && eqStr(consolePassword, given);
    },
  };
}

export interface Limit {
  windowMs: number;
  max: number;
}

/** A fixed-window counter per key, in this process. */
export class RateLimiter {
  private hits = new Map<string, { start: number; n: number }>();
  constructor(private readonly limit: Limit) {}
  /** True when this hit is allowed. */
  hit(key: string, now = Date.now()): boolean {
    if (this.hits.size > 50_000) for (const [k, v] of this.hits) if (now - v.start > this.limit.windowMs) this.hits.delete(k);
    const h = this.hits.get(key);
    if (!h || now - h.start > this.limit.windowMs) {
      this.hits.set(key, { start: now, n: 1 });
      return true;
    }
    h.n++;
    return h.n <= this.limit.max;
  }
}

export function limitBy(limiter: RateLimiter, keyOf: (req: Request) => string, onRefused: (req: Request, res: Response) => void): RequestHandler {
  return (req, res, next) => (limiter.hit(keyOf(req)) ? next() : onRefused(req, res));
}
