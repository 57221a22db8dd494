// Revocation and the issuer-signed status list that gateways and add-ons consult.
import { SealError, signStatus, type SignedStatus, type StatusList } from '../../card/index.js';
import type { Seller } from './seller.js';
import { WIPE_SECRETS } from './redemption.js';

export async function revokeCode(seller: Seller, serial: string, now = Date.now()): Promise<void> {
  const n = await seller.db.run("UPDATE codes SET state = 'revoked', state_changed_at = ? WHERE serial = ?", now, serial);
  if (n !== 1) throw new SealError('USAGE', `unknown code ${serial}`);
}

export async function revokeBuild(seller: Seller, buildId: string, now = Date.now()): Promise<void> {
  // The resume window closes too: a revoked build is not downloaded any more.
  const n = await seller.db.run(`UPDATE redemptions SET revoked_at = COALESCE(revoked_at, ?), ${WIPE_SECRETS} WHERE build_id = ?`, now, buildId);
  if (n !== 1) throw new SealError('USAGE', `unknown build ${buildId}`);
}

export async function revokeCard(seller: Seller, cardId: string, now = Date.now()): Promise<void> {
  const n = await seller.db.run('UPDATE cards SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?', now, cardId);
  if (n !== 1) throw new SealError('USAGE', `unknown card ${cardId}`);
}

/**
 * Revoked codes, builds and cards. Expired ones need no entry: every certificate
 * carries its own expiry, which verifiers check.
 */
export async function statusList(seller: Seller, now = Date.now()): Promise<StatusList> {
  // Sorted here, by code point: a database's collation (PostgreSQL's follows its locale)
  // must not change the list, so every process and both databases sign the same bytes.
  // One statement: the three lists are one state of the database, whichever process reads it.
  const rows = await seller.db.all<{ kind: 'codes' | 'builds' | 'cards'; id: string }>(
    `SELECT 'codes' AS kind, serial AS id FROM codes WHERE state = 'revoked'
     UNION ALL SELECT 'builds', r.build_id FROM redemptions r JOIN codes c ON c.serial = r.serial WHERE r.revoked_at IS NOT NULL OR c.state = 'revoked'
     UNION ALL SELECT 'cards', id FROM cards WHERE revoked_at IS NOT NULL`,
  );
  const revoked: StatusList['revoked'] = { codes: [], builds: [], cards: [] };
  for (const r of rows) revoked[r.kind].push(r.id);
  for (const list of Object.values(revoked)) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { issuedAt: now, revoked };
}

export async function signedStatus(seller: Seller, now = Date.now()): Promise<SignedStatus> {
  return signStatus(seller.issuerSecret(), await statusList(seller, now));
}
