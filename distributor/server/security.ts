// Cookies, CSRF tokens, the console session, rate limits. Every secret comparison is
// constant-time; console sessions live in the database (only a hash of their id), so
// logout and a new console password end them, and every process sharing the database
// knows them.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { equalBytes, utf8 } from '../../card/index.js';
import type { Store } from '../db/store.js';

// Over https the cookies carry the __Host- prefix: the browser then accepts them only
// from this exact origin, Secure, on path /, so a sibling subdomain or a plain-http
// page cannot plant one. Browsers refuse __Host- cookies without Secure, so on plain
// http (a loopback console) the unprefixed names are used; the CSRF cookie is rotated
// at every login either way, so a planted one dies there.
export const CSRF_COOKIE = 'sc_csrf';
export const SESSION_COOKIE = 'sc_session';
/** Ties a browser to the download it was granted, so a reload finds it again. */
export const VISITOR_COOKIE = 'sc_visit';
export const HOST_PREFIX = '__Host-';
/** A session ends this long after login, whatever happens. */
export const SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
/** ...and this long after its last request. */
export const SESSION_IDLE_MS = 30 * 60 * 1000;
// last_seen_at is written at most this often, not on every console request.
const TOUCH_EVERY_MS = 60 * 1000;

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const eqStr = (a: string, b: string): boolean => equalBytes(sha256(utf8(a)), sha256(utf8(b)));
const idHash = (id: string): Buffer => createHash('sha256').update('sealcode console session\0' + id, 'utf8').digest();
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

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

/** True when the Origin header names another site, or cannot be read at all. */
export function foreignOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || origin === 'null') return false;
  try {
    return new URL(origin).host !== host;
  } catch {
    return true;
  }
}

export interface Security {
  /** The CSRF token for this browser's forms; sets the CSRF cookie when missing. */
  csrfToken(req: Request, res: Response): string;
  /** Refuses state-changing form posts without a matching token (403). */
  csrfProtect: RequestHandler;
  /** A new session (and a new CSRF cookie, so that one planted before login is useless). */
  startSession(req: Request, res: Response): Promise<void>;
  endSession(req: Request, res: Response): Promise<void>;
  hasSession(req: Request): Promise<boolean>;
  checkPassword(given: string): boolean;
  /** This browser's redemption cookie value; set (for a day) when it has none. */
  visitor(req: Request, res: Response): string;
  /** Whether this request gets __Host- cookies. */
  secure(req: Request): boolean;
}

export interface SecurityOptions {
  db: Store;
  /** Signs CSRF tokens and binds sessions to the console password in force. */
  key: Uint8Array;
  consolePassword?: string;
  /** The public URL is https (a TLS proxy in front): cookies are Secure and __Host-. */
  httpsPublic?: boolean;
  onRefused: (req: Request, res: Response, status: number, msg: string) => void;
  now?: () => number;
}

export function security(o: SecurityOptions): Security {
  const now = o.now ?? Date.now;
  const mac = (label: string, v: string): string => b64u(hmac(sha256, o.key, utf8(`${label}\0${v}`)));
  // Sessions made under another password do not open the console under this one.
  const epoch = Buffer.from(sha256(utf8(mac('password epoch', o.consolePassword ?? ''))));
  const secure = (req: Request): boolean => Boolean(o.httpsPublic || req.secure);
  const name = (req: Request, base: string): string => (secure(req) ? HOST_PREFIX + base : base);
  const cookieOpts = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: secure(req), path: '/' });
  const pending = new WeakMap<Request, string>();
  const pendingSession = new WeakMap<Request, string>();
  const sessionId = (req: Request): string | undefined => {
    const v = pendingSession.get(req) ?? cookies(req)[name(req, SESSION_COOKIE)];
    return v && TOKEN_RE.test(v) ? v : undefined;
  };
  // A logged-in browser's token is bound to its session too: whoever planted (or read)
  // the CSRF cookie still cannot make a console form's token without the session id.
  const csrfFor = (req: Request, v: string): string => mac('csrf', `${v}\0${sessionId(req) ?? ''}`);
  const setCsrf = (req: Request, res: Response): string => {
    const v = b64u(randomBytes(32));
    pending.set(req, v);
    res.cookie(name(req, CSRF_COOKIE), v, cookieOpts(req));
    return v;
  };
  const db = o.db;
  return {
    secure,
    visitor(req, res) {
      const v = cookies(req)[name(req, VISITOR_COOKIE)];
      if (v && TOKEN_RE.test(v)) return v;
      const fresh = b64u(randomBytes(32));
      res.cookie(name(req, VISITOR_COOKIE), fresh, { ...cookieOpts(req), maxAge: 24 * 60 * 60 * 1000 });
      return fresh;
    },
    csrfToken(req, res) {
      let v = pending.get(req) ?? cookies(req)[name(req, CSRF_COOKIE)];
      if (!v || !TOKEN_RE.test(v)) v = setCsrf(req, res);
      return csrfFor(req, v);
    },
    csrfProtect(req: Request, res: Response, next: NextFunction) {
      const v = cookies(req)[name(req, CSRF_COOKIE)];
      const given = typeof req.body?._csrf === 'string' ? req.body._csrf : '';
      // Browsers send Origin on cross-site posts; a foreign (or unreadable) one is refused outright.
      const foreign = foreignOrigin(req.headers.origin, req.headers.host);
      if (!v || !given || foreign || !eqStr(csrfFor(req, v), given)) return o.onRefused(req, res, 403, 'This form has expired or did not come from this site. Reload the page and try again.');
      next();
    },
    async startSession(req, res) {
      const id = b64u(randomBytes(32));
      const t = now();
      await db.run('INSERT INTO console_sessions (id_hash, epoch, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)', idHash(id), epoch, t, t, t + SESSION_ABSOLUTE_MS);
      await db.run('DELETE FROM console_sessions WHERE expires_at < ? OR last_seen_at < ?', t, t - SESSION_IDLE_MS);
      pendingSession.set(req, id);
      res.cookie(name(req, SESSION_COOKIE), id, { ...cookieOpts(req), maxAge: SESSION_ABSOLUTE_MS });
      setCsrf(req, res);
    },
    async endSession(req, res) {
      const id = sessionId(req);
      if (id) await db.run('DELETE FROM console_sessions WHERE id_hash = ?', idHash(id));
      res.clearCookie(name(req, SESSION_COOKIE), { path: '/', secure: secure(req), sameSite: 'strict', httpOnly: true });
    },
    async hasSession(req) {
      const id = sessionId(req);
      if (!id) return false;
      const h = idHash(id);
      const row = await db.get<{ epoch: Uint8Array; last_seen_at: number; expires_at: number }>('SELECT epoch, last_seen_at, expires_at FROM console_sessions WHERE id_hash = ?', h);
      const t = now();
      if (!row || !equalBytes(new Uint8Array(row.epoch), epoch) || row.expires_at <= t || row.last_seen_at + SESSION_IDLE_MS <= t) return false;
      if (t - row.last_seen_at >= TOUCH_EVERY_MS) await db.run('UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ?', t, h);
      return true;
    },
    checkPassword(given) {
      return o.consolePassword !== undefined && o.consolePassword.length > 0 && eqStr(o.consolePassword, given);
    },
  };
}

/**
 * Ends every console session (`sealcode admin end-sessions`). Not done at start-up: with
 * several processes on one database, one process starting would log the seller out of all.
 */
export async function endAllSessions(db: Store): Promise<number> {
  return db.run('DELETE FROM console_sessions');
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

