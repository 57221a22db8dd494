// The keyless relation between a sender's certificate and the owner of the mailbox the
// mail arrived in, for a gateway told whose mailbox it is (DESIGN.md "Certification",
// Fig. 17/18). Without keys the gateway cannot see which stanza would open, so it judges
// from certificates and the stanza labels alone. Pure: facts in, null (certified) or
// the reason of a refusal out.
import type { Cert } from './certs.js';
import type { Stanza } from './stanza.js';

export type MailboxOwner =
  /** A purchaser: its card id and, when known, its group id. */
  | { kind: 'card'; cardId: string; groupId?: string }
  /**
   * A dedicated user: the code serial (or purchaser-chosen ID) their build was made
   * from, the group of that code, and their build id (and its parent, for a copy
   * right) when known.
   */
  | { kind: 'code' | 'id'; label: string; groupId: string; buildId?: string; copyOf?: string };

export function ownerRelation(origin: Cert, stanzas: Stanza[], owner: MailboxOwner): string | null {
  if (owner.kind === 'card') {
    if (origin.cardId === owner.cardId) return null;
    if (owner.groupId !== undefined && origin.groupId === owner.groupId) return null;
    if (origin.type === 'build') return `this dedicated build was not made from a code of the mailbox owner's card or group`;
    // A seller-made pair key (Fig. 18) links two cards of different groups.
    if (stanzas.some((s) => s.kind === 'pair')) return null;
    return `the sender's card is not of the mailbox owner's group and shares no pair key with it`;
  }
  if (origin.type === 'card') {
    if (origin.groupId !== owner.groupId) return `the sender's card is not of the group of the mailbox owner's code`;
    if (stanzas.length > 0 && !stanzas.some((s) => s.kind === owner.kind && s.label === owner.label))
      return `not sealed for the mailbox owner's ${owner.kind === 'code' ? 'code' : 'ID'}`;
    return null;
  }
  // Dedicated → dedicated (Fig. 17).
  if (owner.buildId !== undefined && origin.buildId === owner.buildId) return `signed with the mailbox owner's own build key: an illegal copy of the build`;
  if (origin.keyKind !== owner.kind || origin.keyLabel !== owner.label)
    return `not from a purchaser: a dedicated build of another purchaser's code, sent to a dedicated user`;
  const copyRight =
    owner.buildId !== undefined && (origin.copyOf === owner.buildId || (owner.copyOf !== undefined && owner.copyOf === origin.buildId));
  return copyRight ? null : 'not from a purchaser: dedicated build to dedicated build without a copy right';
}
