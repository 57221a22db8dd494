// A message for the page after a redirect ("card revoked"): a short-lived cookie,
// signed so that a cookie planted by someone else cannot put words in the console.
import type { Request, Response } from 'express';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, utf8 } from '../../card/index.js';
import { cookies } from './security.js';

export const FLASH_COOKIE = 'sc_flash';

export interface Flash {
  set(req: Request, res: Response, message: string): void;
  /** The pending message, once: the cookie is cleared. */
  take(req: Request, res: Response): string | undefined;
}

export function flashes(key: Uint8Array, path = '/console'): Flash {
  const mac = (v: string) => hmac(sha256, key, utf8(`flash\0${v}`));
  const opts = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path });
  return {
    set(req, res, message) {
      const v = Buffer.from(message, 'utf8').toString('base64url');
      res.cookie(FLASH_COOKIE, `${v}.${Buffer.from(mac(v)).toString('base64url')}`, { ...opts(req), maxAge: 60_000 });
    },
    take(req, res) {
      const raw = cookies(req)[FLASH_COOKIE];
      if (raw === undefined) return undefined;
      res.clearCookie(FLASH_COOKIE, opts(req));
      const m = /^([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{43})$/.exec(raw);
      if (!m || !equalBytes(mac(m[1]!), new Uint8Array(Buffer.from(m[2]!, 'base64url')))) return undefined;
      return Buffer.from(m[1]!, 'base64url').toString('utf8');
    },
  };
}
