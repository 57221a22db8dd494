// Distributor-blind codes (docs/FORMAT.md §2.1): a code's blind part b(label) comes from
// a secret B that only the purchaser's cards hold, so the seller, which knows Ka and
// therefore K(serial), still cannot derive the key a blind code's build talks with.
// The blind part is 16 Crockford characters (80 bits) plus 2 check characters; the
// check also covers the key kind and label it belongs to, so a blind part typed after
// the wrong code is caught before anything is derived.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ALPHABET, normalize } from './codes.js';
import { concat, utf8 } from './bytes.js';
import { SealError } from './errors.js';
import type { KeyKind } from './certs.js';

export const BLIND_CHARS = 16; // 80 bits
export const BLIND_CHECK = 2;
export const BLIND_BYTES = 10;
const CHECK_MOD = 1021; // as for codes: every single substitution and swap changes it
/** Typed between the seller's code and the blind part. */
export const BLIND_SEPARATOR = '+';

/** What the card feeds to PRF(B, ·) for the blind part of a code (serial) or an ID. */
export const blindMessage = (kind: KeyKind, label: string): Uint8Array =>
  concat(utf8('sealcode blind part'), Uint8Array.of(0), utf8(kind), Uint8Array.of(0), utf8(label));

/** The first 80 bits of PRF(B, ·), as 16 characters. */
export function blindCharsOf(mac: Uint8Array): string {
  let s = '';
  for (let i = 0; i < BLIND_CHARS; i++) {
    // bits 5i .. 5i+4, most significant first
    const bit = i * 5;
    const v = ((mac[bit >> 3]! << 8) | mac[(bit >> 3) + 1]!) >> (11 - (bit & 7));
    s += ALPHABET[v & 31];
  }
  return s;
}

function charsToBytes(chars: string): Uint8Array {
  const out = new Uint8Array(BLIND_BYTES);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of chars) {
    acc = (acc << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out[o++] = (acc >> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

export function blindCheck(kind: KeyKind, label: string, chars: string): string {
  const h = sha256(concat(utf8('sealcode blind check'), Uint8Array.of(0), utf8(kind), Uint8Array.of(0), utf8(label)));
  let v = ((h[0]! << 8) | h[1]!) % CHECK_MOD;
  for (const ch of chars) {
    const d = ALPHABET.indexOf(ch);
    if (d < 0) throw new SealError('BAD_CODE', 'a blind part holds only Crockford base32 characters');
    v = (v * 32 + d) % CHECK_MOD;
  }
  return ALPHABET[Math.floor(v / 32)]! + ALPHABET[v % 32]!;
}

/** The blind part as handed over: XXXX-XXXX-XXXX-XXXX-CC. */
export function formatBlindPart(kind: KeyKind, label: string, chars: string): string {
  return (chars + blindCheck(kind, label, chars)).match(/.{1,4}/g)!.join('-');
}

/** The whole text a purchaser hands over for a blind code. */
export const formatBlindCode = (sellerCode: string, blindPart: string): string => sellerCode + BLIND_SEPARATOR + blindPart;

export interface SplitCode {
  /** The seller's part, as typed: what the distributor may see. */
  seller: string;
  /** The blind part, normalised, when the text carries one. */
  blind?: string;
}

const SELLER_LEN = 28; // serial + secret + check, see codes.ts

/**
 * Splits typed text into the seller's code and the blind part. With the separator the
 * split is where it is typed; without it a 46-character body (48 with "SC") is split
 * after the seller's 28.
 */
export function splitCode(input: string): SplitCode {
  const at = input.indexOf(BLIND_SEPARATOR);
  if (at >= 0) return { seller: input.slice(0, at), blind: normalize(input.slice(at + 1)) };
  const s = normalize(input);
  const body = s.length === 2 + SELLER_LEN + BLIND_CHARS + BLIND_CHECK && s.startsWith('SC') ? s.slice(2) : s;
  if (body.length === SELLER_LEN + BLIND_CHARS + BLIND_CHECK) return { seller: body.slice(0, SELLER_LEN), blind: body.slice(SELLER_LEN) };
  return { seller: input };
}

/** The seller's part of typed text; the blind part, if any, is dropped unread. */
export const sellerPart = (input: string): string => splitCode(input).seller;

/** Checks a typed blind part against the key it belongs to and returns its 80 bits. */
export function parseBlindPart(kind: KeyKind, label: string, typed: string): Uint8Array {
  const s = normalize(typed);
  if (s.length !== BLIND_CHARS + BLIND_CHECK || ![...s].every((c) => ALPHABET.includes(c)))
    throw new SealError('BAD_CODE', `the blind part (after "${BLIND_SEPARATOR}") must be ${BLIND_CHARS + BLIND_CHECK} characters`);
  const chars = s.slice(0, BLIND_CHARS);
  if (blindCheck(kind, label, chars) !== s.slice(BLIND_CHARS))
    throw new SealError('BAD_CODE', 'the blind part has a typing mistake, or belongs to another code (check characters do not match)');
  return charsToBytes(chars);
}

/** The blind part's 80 bits from PRF(B, ·) directly (the card's side). */
export const blindBytesOf = (mac: Uint8Array): Uint8Array => charsToBytes(blindCharsOf(mac));

/** A blind code's (or ID's) build key: K(label) mixed with the blind part. */
export const blindCodeKey = (k: Uint8Array, blind: Uint8Array): Uint8Array =>
  hmac(sha256, k, concat(utf8('sealcode blind code key'), Uint8Array.of(0), blind));
