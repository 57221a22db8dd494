// A party is whoever holds keys: a card (purchaser) or a dedicated build. This is the
// one card interface: the CLI uses it in-process, the add-on reaches a card through the
// native host with the same methods, the gateway seals with it. It wraps and unwraps
// file keys and signs digests; bulk encryption happens outside it.
import type { BuildCert, CardCert } from './certs.js';
import { decodeCert } from './certs.js';
import { SealError } from './errors.js';
import { sign } from './keys.js';
import { memoryKeyOps, prfMessage, type CardKeyOps } from './keyops.js';
import { blindBytesOf, blindCodeKey, blindMessage } from './blind.js';
import { unwrapFileKey, wrapFileKey, type RecipientSpec, type Stanza } from './stanza.js';

export interface Party {
  readonly kind: 'card' | 'dedicated';
  /** Our own issuer-signed certificate, as it goes into headers. */
  readonly certificate: Uint8Array;
  wrap(spec: RecipientSpec, fileKey: Uint8Array, salt: Uint8Array): Promise<Stanza>;
  /** The file key and the index of the stanza that opened, or null: not for us. */
  unwrap(stanzas: Stanza[]): Promise<{ fileKey: Uint8Array; index: number } | null>;
  sign(digest: Uint8Array): Promise<Uint8Array>;
}

export interface CardSecrets {
  cert: Uint8Array;
  signSecret: Uint8Array;
  groupKey: Uint8Array;
  groupId: string;
  pairs: { pairId: string; key: Uint8Array }[];
  /** The group's blind secret B, when the card holds it. */
  blindSecret?: Uint8Array;
  /** The group uses blind codes: code and ID keys are mixed with b(label). */
  blind?: boolean;
}

/** What a card party needs besides its key operations: nothing in here is a long-term secret but pair keys. */
export interface CardPublic {
  cert: Uint8Array;
  groupId: string;
  pairs: { pairId: string; key: Uint8Array }[];
  blind?: boolean;
}

const noBlindSecret = (): SealError =>
  new SealError('REFUSED', "this card's group uses blind codes but the card holds no blind secret yet: run `sealcode card blind` or `card blind import`");

/** The key a card uses for a stanza, or null when it has none for it. */
async function cardStanzaKey(ops: CardKeyOps, c: CardPublic, kind: Stanza['kind'], label: string): Promise<Uint8Array | null> {
  switch (kind) {
    case 'code':
    case 'id': {
      const k = await ops.groupMac(prfMessage(kind === 'code' ? 'sealcode code key' : 'sealcode id key', label));
      if (!c.blind) return k;
      const mac = await ops.blindMac(blindMessage(kind, label));
      if (!mac) throw noBlindSecret();
      return blindCodeKey(k, blindBytesOf(mac));
    }
    case 'group':
      return label === c.groupId ? ops.groupMac(prfMessage('sealcode group key', c.groupId)) : null;
    case 'pair':
      return c.pairs.find((p) => p.pairId === label)?.key ?? null;
  }
}

export function cardParty(secrets: CardSecrets): Party {
  return cardPartyWith(
    memoryKeyOps({ signSecret: secrets.signSecret, groupKey: secrets.groupKey, blindSecret: secrets.blindSecret }),
    secrets,
  );
}

/** A card whose secrets are reached through `ops` (in memory, or in a token). */
export function cardPartyWith(ops: CardKeyOps, c: CardPublic): Party {
  if (decodeCert(c.cert).type !== 'card') throw new SealError('USAGE', 'not a card certificate');
  return {
    kind: 'card',
    certificate: c.cert,
    async wrap(spec, fileKey, salt) {
      const k = await cardStanzaKey(ops, c, spec.kind, spec.label);
      if (!k) throw new SealError('USAGE', spec.kind === 'pair' ? `this card holds no pair key ${spec.label}` : `this card cannot seal for group ${spec.label}`);
      return wrapFileKey(k, spec, fileKey, salt);
    },
    async unwrap(stanzas) {
      let missingBlind: SealError | null = null;
      for (const [index, s] of stanzas.entries()) {
        let k: Uint8Array | null;
        try {
          k = await cardStanzaKey(ops, c, s.kind, s.label);
        } catch (e) {
          // Another stanza may still open; say why only if none does.
          if (!(e instanceof SealError)) throw e;
          missingBlind = e;
          continue;
        }
        const fileKey = k && unwrapFileKey(k, s);
        if (fileKey) return { fileKey, index };
      }
      if (missingBlind) throw missingBlind;
      return null;
    },
    sign: (digest) => ops.sign(digest),
  };
}

export interface BuildSecrets {
  cert: Uint8Array;
  buildSecret: Uint8Array;
  /** K(keyLabel): the code key (or ID key) this build was made with. */
  codeKey: Uint8Array;
}

export function buildParty(secrets: BuildSecrets): Party {
  const cert = decodeCert(secrets.cert);
  if (cert.type !== 'build') throw new SealError('USAGE', 'not a build certificate');
  const mine = (kind: string, label: string): boolean => kind === cert.keyKind && label === cert.keyLabel;
  return {
    kind: 'dedicated',
    certificate: secrets.cert,
    async wrap(spec, fileKey, salt) {
      if (!mine(spec.kind, spec.label))
        throw new SealError('USAGE', `this dedicated build can seal only for its purchaser (${cert.keyKind} ${cert.keyLabel})`);
      return wrapFileKey(secrets.codeKey, spec, fileKey, salt);
    },
    async unwrap(stanzas) {
      for (const [index, s] of stanzas.entries()) {
        const fileKey = mine(s.kind, s.label) ? unwrapFileKey(secrets.codeKey, s) : null;
        if (fileKey) return { fileKey, index };
      }
      return null;
    },
    async sign(digest) {
      return sign(secrets.buildSecret, digest);
    },
  };
}

/** The recipient a dedicated build seals for: its purchaser's code (or ID). */
export const buildRecipient = (c: BuildCert): RecipientSpec => ({ kind: c.keyKind, label: c.keyLabel });

export type { CardCert, BuildCert };
