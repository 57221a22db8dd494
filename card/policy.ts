// The certification policy (DESIGN.md "Certification", patent Fig. 15-19): who may
// certify data from whom. Pure: certificates and facts in, a verdict out. Receivers
// call it with their own certificate; gateways, with the addressees the header names.
import type { BuildCert, CardCert, Cert } from './certs.js';
import { describeCert } from './certs.js';
import type { OriginKind } from './container/header.js';
import type { Stanza } from './stanza.js';
import type { StatusList } from './status.js';
import type { SealErrorCode } from './errors.js';
import { equalBytes } from './bytes.js';

export type VerdictStatus = 'certified' | 'refused';

export interface Verdict {
  certified: boolean;
  /** Why it was refused; absent when certified. */
  code?: Extract<SealErrorCode, 'REFUSED' | 'EXPIRED' | 'REVOKED'>;
  reason: string;
  origin: Cert;
  /** "card 123 of Alice <a@x>" / "dedicated build ..." */
  sealedBy: string;
}

export interface PolicyInput {
  origin: Cert;
  originKind: OriginKind;
  stanzas: Stanza[];
  created: number;
  now: number;
  /** The receiving party; absent for a keyless check (gateway, `verify`). */
  receiver?: Cert;
  /** Parties named in the header (checked keylessly when there is no receiver). */
  addressees?: Cert[];
  status?: StatusList;
}

// Creation times from the future are refused beyond this clock skew.
const SKEW_MS = 10 * 60 * 1000;

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function refused(input: PolicyInput, code: NonNullable<Verdict['code']>, reason: string): Verdict {
  return { certified: false, code, reason, origin: input.origin, sealedBy: describeCert(input.origin) };
}

function validity(c: Cert, who: string, now: number, status?: StatusList): [NonNullable<Verdict['code']>, string] | null {
  if (now > c.notAfter) return ['EXPIRED', `${who} expired on ${day(c.notAfter)}`];
  if (now + SKEW_MS < c.notBefore) return ['REFUSED', `${who} is not valid before ${day(c.notBefore)}`];
  if (!status) return null;
  const r = status.revoked;
  if (c.type === 'card') return r.cards.includes(c.cardId) ? ['REVOKED', `${who} is revoked`] : null;
  if (r.builds.includes(c.buildId)) return ['REVOKED', `${who} is revoked`];
  if (r.codes.includes(c.serial)) return ['REVOKED', `${who}: its code ${c.serial} is revoked`];
  // A build speaks for its purchaser's card: revoking the card revokes what its codes made.
  if (r.cards.includes(c.cardId)) return ['REVOKED', `${who}: the purchaser's card ${c.cardId} is revoked`];
  return null;
}

/** The relation between a sender and one receiving party: null when certified. */
function relation(origin: Cert, receiver: Cert): string | null {
  if (origin.type === 'card') {
    // Cards that could open it share a group key or hold a seller-made pair key.
    if (receiver.type === 'card') return null;
    return origin.groupId === receiver.groupId ? null : `the sender's card is not of the group of this build's purchaser`;
  }
  if (receiver.type === 'card')
    return origin.groupId === receiver.groupId ? null : `this dedicated build was not made from a code of this card's group`;
  const s = origin as BuildCert;
  const r = receiver as BuildCert;
  if (s.buildId === r.buildId || equalBytes(s.signPub, r.signPub))
    return 'signed with this build\'s own key: an illegal copy of the build';
  if (s.keyLabel === r.keyLabel && (s.copyOf === r.buildId || r.copyOf === s.buildId)) return null;
  return 'not from a purchaser: dedicated build to dedicated build without a copy right';
}

export function certify(input: PolicyInput): Verdict {
  const { origin, now } = input;
  if ((input.originKind === 'card') !== (origin.type === 'card'))
    return refused(input, 'REFUSED', 'origin kind does not match its certificate');
  if (input.created > now + SKEW_MS) return refused(input, 'REFUSED', 'created in the future');
  const bad = validity(origin, "the sender's " + (origin.type === 'card' ? 'card' : 'build'), now, input.status);
  if (bad) return refused(input, bad[0], bad[1]);
  if (origin.type === 'build') {
    // A dedicated build holds one key: it can only seal for its purchaser's code or ID.
    const own = (s: Stanza): boolean => s.kind === origin.keyKind && s.label === origin.keyLabel;
    if (!input.stanzas.every(own)) return refused(input, 'REFUSED', 'a dedicated build sealed for a party other than its purchaser');
  }
  const parties = input.receiver ? [input.receiver] : (input.addressees ?? []);
  for (const p of parties) {
    const mine = input.receiver !== undefined;
    const pv = validity(p, mine ? 'this ' + (p.type === 'card' ? 'card' : 'build') : 'the addressed party', now, input.status);
    if (pv) return refused(input, pv[0], pv[1]);
    const why = relation(origin, p);
    if (why) return refused(input, 'REFUSED', why);
  }
  return {
    certified: true,
    reason: origin.type === 'card' ? 'sealed with a purchaser\'s card' : 'sealed with a dedicated build issued by a purchaser\'s code',
    origin,
    sealedBy: describeCert(origin),
  };
}

export type { CardCert, BuildCert };
