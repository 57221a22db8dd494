// Revocation and the issuer-signed status list that gateways and add-ons consult.
import { SealError, signStatus, type SignedStatus, type StatusList } from '../../card/index.js';
import type { Seller } from './seller.js';
import { WIPE_SECRETS } from './redemption.js';

export function revokeCode(seller: Seller, serial: string, now = Date.now()): void {
  const r = seller.db.prepare("UPDATE codes SET state = 'revoked', state_changed_at = ? WHERE serial = ?").run(now, serial);
  if (r.changes !== 1) throw new SealError('USAGE', `unknown code ${serial}`);
}

export function revokeBuild(seller: Seller, buildId: string, now = Date.now()): void {
  // The resume window closes too: a revoked build is not downloaded any more.
  const r = seller.db
    .prepare(`UPDATE redemptions SET revoked_at = COALESCE(revoked_at, ?), ${WIPE_SECRETS} WHERE build_id = ?`)
    .run(now, buildId);
  if (r.changes !== 1) throw new SealError('USAGE', `unknown build ${buildId}`);
}

export function revokeCard(seller: Seller, cardId: string, now = Date.now()): void {
  const r = seller.db.prepare('UPDATE cards SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(now, cardId);
  if (r.changes !== 1) throw new SealError('USAGE', `unknown card ${cardId}`);
}

/**
 * Revoked codes, builds and cards. Expired ones need no entry: every certificate
 * carries its own expiry, which verifiers check.
 */
export function statusList(seller: Seller, now = Date.now()): StatusList {
  const col = (sql: string): string[] => seller.db.prepare(sql).pluck().all() as string[];
  return {
    issuedAt: now,
    revoked: {
      codes: col("SELECT serial FROM codes WHERE state = 'revoked' ORDER BY serial"),
      builds: col(
        `SELECT r.build_id FROM redemptions r JOIN codes c ON c.serial = r.serial
         WHERE r.revoked_at IS NOT NULL OR c.state = 'revoked' ORDER BY r.build_id`,
      ),
      cards: col('SELECT id FROM cards WHERE revoked_at IS NOT NULL ORDER BY id'),
    },
  };
}

export function signedStatus(seller: Seller, now = Date.now()): SignedStatus {
  return signStatus(seller.issuerSecret(), statusList(seller, now));
}
