// Confirming a redeemer's email address (the pay-back rule for invitees depends on it):
// a random token mailed as a link, kept only as a hash, used once, expiring.
import { createHash } from 'node:crypto';
import { randomBytes } from '@noble/hashes/utils.js';
import { DAY_MS, SealError } from '../../card/index.js';
import type { Seller } from './seller.js';

export const CONFIRM_TTL_MS = 7 * DAY_MS;
export const CONFIRM_TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

const hashOf = (token: string): Buffer => createHash('sha256').update('sealcode email confirmation\0' + token, 'utf8').digest();

/** A new confirmation token for a redemption's email address. */
export async function startConfirmation(seller: Seller, redemptionId: string, now = Date.now(), ttlMs = CONFIRM_TTL_MS): Promise<string> {
  const token = Buffer.from(randomBytes(32)).toString('base64url');
  await seller.db.run('INSERT INTO email_confirmations (token_hash, redemption_id, created_at, expires_at) VALUES (?, ?, ?, ?)', hashOf(token), redemptionId, now, now + ttlMs);
  return token;
}

/** Marks the address confirmed. Refuses unknown, used and expired tokens. */
export async function confirmEmail(seller: Seller, token: string, now = Date.now()): Promise<{ email: string }> {
  if (!CONFIRM_TOKEN_RE.test(token)) throw new SealError('REFUSED', 'This confirmation link is not valid. Use the link from the most recent mail.');
  return seller.db.tx(async () => {
      const row = await seller.db.getForUpdate<{ redemption_id: string; expires_at: number; used_at: number | null }>(
        'SELECT redemption_id, expires_at, used_at FROM email_confirmations WHERE token_hash = ?',
        hashOf(token),
      );
      if (!row) throw new SealError('REFUSED', 'This confirmation link is not valid. Use the link from the most recent mail.');
      if (row.used_at !== null) throw new SealError('REFUSED', 'This confirmation link has already been used: your address is confirmed.');
      if (row.expires_at < now) throw new SealError('EXPIRED', 'This confirmation link has expired. Nothing else needs doing: your add-on works without it.');
      await seller.db.run('UPDATE email_confirmations SET used_at = ? WHERE token_hash = ?', now, hashOf(token));
      await seller.db.run('UPDATE redemptions SET email_confirmed_at = COALESCE(email_confirmed_at, ?) WHERE id = ?', now, row.redemption_id);
      return { email: (await seller.db.value<string>('SELECT redeemer_email FROM redemptions WHERE id = ?', row.redemption_id))! };
    });
}
