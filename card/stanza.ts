// Recipient stanzas (docs/FORMAT.md §6): the file key wrapped under one party's key.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { Writer } from './bytes.js';
import { hkdf32 } from './keys.js';

export type StanzaKind = 'code' | 'id' | 'group' | 'pair';
export const STANZA_KIND_BYTE: Record<StanzaKind, number> = { code: 1, id: 2, group: 3, pair: 4 };
export const STANZA_KINDS: StanzaKind[] = ['code', 'id', 'group', 'pair'];

export interface Stanza {
  kind: StanzaKind;
  label: string; // code serial, ID, group id or pair id: public, so receivers and gateways can route
  salt: Uint8Array; // 16 random bytes
  wrapped: Uint8Array; // 48 bytes: ChaCha20-Poly1305(file key)
}

/** What a sender asks to seal for; a party turns it into a stanza with its keys. */
export interface RecipientSpec {
  kind: StanzaKind;
  label: string;
}

const ZERO_NONCE = new Uint8Array(12);
const aad = (kind: StanzaKind, label: string): Uint8Array =>
  new Writer().u8(STANZA_KIND_BYTE[kind]).str(label).done();

export function wrapFileKey(recipientKey: Uint8Array, spec: RecipientSpec, fileKey: Uint8Array, salt: Uint8Array): Stanza {
  const k = hkdf32(recipientKey, salt, 'sealcode wrap v1');
  const wrapped = chacha20poly1305(k, ZERO_NONCE, aad(spec.kind, spec.label)).encrypt(fileKey);
  return { kind: spec.kind, label: spec.label, salt, wrapped };
}

/** Null when this key does not open the stanza: that is "not for us", not an error. */
export function unwrapFileKey(recipientKey: Uint8Array, s: Stanza): Uint8Array | null {
  const k = hkdf32(recipientKey, s.salt, 'sealcode wrap v1');
  try {
    return chacha20poly1305(k, ZERO_NONCE, aad(s.kind, s.label)).decrypt(s.wrapped);
  } catch {
    return null;
  }
}
