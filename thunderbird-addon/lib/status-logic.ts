// The distributor's signed status list as an installed build holds it: where it is
// fetched from, whether a fetched list may replace the one held (verified against the
// issuer key, never older: a replayed or stale list must not un-revoke anyone), and
// whether it revokes this build or card itself.
import { verifyStatus, type SignedStatus, type StatusList } from '../../card/status.js';
import { SealError } from '../../card/errors.js';

/** The distributor publishes the list at /api/v1/status on the origin named in the card or profile. */
export function statusUrlOf(distributorUrl: string): string {
  const u = new URL(distributorUrl);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && /^(127\.0\.0\.1|localhost|\[::1\])$/.test(u.hostname)))
    throw new SealError('USAGE', `the distributor URL must be https: ${u.origin}`);
  return new URL('/api/v1/status', u.origin).href;
}

export interface Accepted {
  list: StatusList;
  /** False when the fetched list was the one held already. */
  changed: boolean;
}

/** Throws (TAMPERED, MALFORMED, or REFUSED for an older list); never returns an older list. */
export function acceptStatus(held: StatusList | undefined, fetched: unknown, issuerPub: Uint8Array): Accepted {
  const list = verifyStatus(fetched as SignedStatus, issuerPub);
  if (held && list.issuedAt < held.issuedAt)
    throw new SealError('REFUSED', `the status list fetched (${new Date(list.issuedAt).toISOString()}) is older than the one held (${new Date(held.issuedAt).toISOString()}); kept the newer`);
  return { list, changed: !held || list.issuedAt !== held.issuedAt || JSON.stringify(list.revoked) !== JSON.stringify(held.revoked) };
}

export type Self = { type: 'build'; buildId: string; serial: string } | { type: 'card'; cardId: string };

/** Why this build or card may no longer seal or open, or null. */
export function selfRevoked(list: StatusList | undefined, self: Self): string | null {
  if (!list) return null;
  if (self.type === 'card')
    return list.revoked.cards.includes(self.cardId) ? `the distributor revoked this card (${self.cardId})` : null;
  if (list.revoked.builds.includes(self.buildId)) return `the distributor revoked this add-on (build ${self.buildId})`;
  if (list.revoked.codes.includes(self.serial)) return `the distributor revoked the code this add-on was made from (${self.serial})`;
  return null;
}
