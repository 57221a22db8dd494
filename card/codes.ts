// One-time codes (docs/FORMAT.md §2): "SC-" + serial (10) + secret (16) + check (2),
// Crockford base32, shown in groups of four. The serial is public (it labels recipient
// stanzas and database rows); the secret is what proves possession at redemption.
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { SealError } from './errors.js';
import { concat, utf8 } from './bytes.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const SERIAL_LEN = 10;
export const SECRET_LEN = 16;
export const CHECK_LEN = 2;
const BODY_LEN = SERIAL_LEN + SECRET_LEN;
// Prime just under 32^2: a single substituted character or two swapped neighbours
// always change the value mod 1021 (32^k and 31·32^k are never 0 mod a prime > 32).
const CHECK_MOD = 1021;
// Serial time origin: 2024-01-01T00:00:00Z; 40 bits of milliseconds last 34 years.
const EPOCH_MS = Date.UTC(2024, 0, 1);

export interface Code {
  serial: string;
  secret: string;
  /** The full code to hand over, grouped: SC-XXXX-XXXX-... */
  text: string;
}

export function checkChars(body: string): string {
  let v = 0;
  for (const ch of body) {
    const d = ALPHABET.indexOf(ch);
    // A character outside the alphabet would silently count as -1 and make a code that never parses.
    if (d < 0) throw new SealError('BAD_CODE', 'a code holds only Crockford base32 characters');
    v = (v * 32 + d) % CHECK_MOD;
  }
  return ALPHABET[Math.floor(v / 32)]! + ALPHABET[v % 32]!;
}

export function formatCode(serial: string, secret: string): string {
  const all = serial + secret + checkChars(serial + secret);
  return 'SC-' + all.match(/.{1,4}/g)!.join('-');
}

function encodeBits(value: bigint, chars: number): string {
  let s = '';
  for (let i = chars - 1; i >= 0; i--) s += ALPHABET[Number((value >> BigInt(i * 5)) & 31n)];
  return s;
}

const randomChars = (n: number): string => {
  const r = randomBytes(n);
  let s = '';
  for (const b of r) s += ALPHABET[b & 31];
  return s;
};

let lastMs = 0;
/**
 * A new code: 40 bits of time plus 10 random bits make the serial (patent [0079]: time
 * and randomness, so that no two are equal); within one process the time part strictly
 * increases, and the database's unique key on the serial catches the rest.
 */
export function generateCode(now: number = Date.now()): Code {
  const ms = Math.max(now - EPOCH_MS, lastMs + 1);
  lastMs = ms;
  const r = randomBytes(2);
  const rnd = BigInt(((r[0]! << 8) | r[1]!) & 0x3ff);
  const serial = encodeBits((BigInt(ms) << 10n) | rnd, SERIAL_LEN);
  const secret = randomChars(SECRET_LEN);
  return { serial, secret, text: formatCode(serial, secret) };
}

/** Canonical form of typed input: case, spaces, dashes, O/0 and I/L/1 confusions. */
export function normalize(input: string): string {
  let s = input.toUpperCase().replace(/[\s\-_.]/g, '');
  // Strip the prefix only when it is one: a bare 28-character code may itself begin with "SC".
  if (s.length === BODY_LEN + CHECK_LEN + 2 && s.startsWith('SC')) s = s.slice(2);
  return s.replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** Parses a typed code; a mistyped one fails here, before anything is looked up. */
export function parseCode(input: string): Code {
  const s = normalize(input);
  if (s.length !== BODY_LEN + CHECK_LEN || ![...s].every((c) => ALPHABET.includes(c)))
    throw new SealError('BAD_CODE', 'not a sealcode code (expected SC- and 28 characters)');
  const body = s.slice(0, BODY_LEN);
  if (checkChars(body) !== s.slice(BODY_LEN))
    throw new SealError('BAD_CODE', 'the code has a typing mistake (check characters do not match)');
  const serial = body.slice(0, SERIAL_LEN);
  const secret = body.slice(SERIAL_LEN);
  return { serial, secret, text: formatCode(serial, secret) };
}

export function isSerial(s: string): boolean {
  return s.length === SERIAL_LEN && [...s].every((c) => ALPHABET.includes(c));
}

/** What the database stores instead of the secret. */
export const secretHash = (serial: string, secret: string): Uint8Array =>
  sha256(concat(utf8('sealcode code secret\0'), utf8(serial), utf8('\0'), utf8(secret)));
