// A party is whoever holds keys: a card (purchaser) or a dedicated build. This is the
// one card interface: the CLI uses it in-process, the add-on reaches a card through the
// native host with the same methods, the gateway seals with it. It wraps and unwraps
// file keys and signs digests; bulk encryption happens outside it.
import type { BuildCert, CardCert } from './certs.js';
import { decodeCert } from './certs.js';
import { SealError } from './errors.js';
import { codeKey, groupStanzaKey, idKey, sign } from './keys.js';
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
}

/** The key a card uses for a stanza, or null when it has none for it. */
function cardStanzaKey(s: CardSecrets, kind: Stanza['kind'], label: string): Uint8Array | null {
  switch (kind) {
    case 'code':
      return codeKey(s.groupKey, label);
    case 'id':
      return idKey(s.groupKey, label);
    case 'group':
      return label === s.groupId ? groupStanzaKey(s.groupKey, s.groupId) : null;
    case 'pair':
      return s.pairs.find((p) => p.pairId === label)?.key ?? null;
  }
}

export function cardParty(secrets: CardSecrets): Party {
  if (decodeCert(secrets.cert).type !== 'card') throw new SealError('USAGE', 'not a card certificate');
  return {
    kind: 'card',
    certificate: secrets.cert,
    async wrap(spec, fileKey, salt) {
      const k = cardStanzaKey(secrets, spec.kind, spec.label);
      if (!k) throw new SealError('USAGE', spec.kind === 'pair' ? `this card holds no pair key ${spec.label}` : `this card cannot seal for group ${spec.label}`);
      return wrapFileKey(k, spec, fileKey, salt);
    },
    async unwrap(stanzas) {
      for (const [index, s] of stanzas.entries()) {
        const k = cardStanzaKey(secrets, s.kind, s.label);
        const fileKey = k && unwrapFileKey(k, s);
        if (fileKey) return { fileKey, index };
      }
      return null;
    },
    async sign(digest) {
      return sign(secrets.signSecret, digest);
    },
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
