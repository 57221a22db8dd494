// What every route module gets: the seller, the rules, the stamper, the security
// helpers and the limits, plus the one mapping from typed errors to HTTP statuses.
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { isSealError, type SealErrorCode } from '../../card/index.js';
import type { PaybackRules } from '../seller/payback.js';
import type { Seller } from '../seller/seller.js';
import type { RateLimiter, Security } from './security.js';
import type { XpiTemplate } from './xpi.js';
import type { Mailer } from './mailer.js';

export interface Limits {
  redeemPerClient: RateLimiter;
  redeemPerSerial: RateLimiter;
  downloadPerClient: RateLimiter;
  apiPerClient: RateLimiter;
  apiPerSubject: RateLimiter;
  challengePerClient: RateLimiter;
  loginPerClient: RateLimiter;
}

export interface Ctx {
  seller: Seller;
  rules: PaybackRules;
  template: XpiTemplate;
  sec: Security;
  limits: Limits;
  log: Logger;
  resumeWindowMs: number;
  /** Sends confirmation mail; without one no redeemer email is ever confirmed. */
  mailer?: Mailer;
  /** Set by `serve` once it listens, when no --public-url was given. */
  publicUrl?: string;
}

const STATUS: Record<SealErrorCode, number> = {
  USAGE: 400,
  BAD_CODE: 400,
  MALFORMED: 400,
  BAD_PASSPHRASE: 400,
  TAMPERED: 403,
  REFUSED: 403,
  NOT_FOR_US: 403,
  EXPIRED: 410,
  REVOKED: 410,
};

/** The status and a message safe to show: typed errors say why, anything else says nothing. */
export function describeError(err: unknown): { status: number; code: string; message: string } {
  if (isSealError(err)) return { status: STATUS[err.code], code: err.code, message: err.message };
  return { status: 500, code: 'ERROR', message: 'something went wrong on our side; try again later' };
}

export const clientKey = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
}
