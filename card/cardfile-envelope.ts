// The card file's outer JSON (docs/FORMAT.md §7) and its key-stretching inputs, apart
// from the AEAD and the pure-JS scrypt: a Node process can read the salt and cost and
// start the native scrypt before it has loaded anything else (cli/early-card-key.ts).
import { utf8 } from './bytes.js';
import { malformed } from './errors.js';

export interface Envelope {
  sealcode: 'card';
  v: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  nonce: string;
  ct: string;
}

export const SCRYPT_MAXMEM = 1024 * 1024 * 1024;

/** The envelope of a passphrase-sealed card file, its fields checked; else MALFORMED. */
export function parseEnvelope(text: string): Envelope {
  let env: Envelope;
  try {
    env = JSON.parse(text) as Envelope;
  } catch {
    throw malformed('not a sealcode card file');
  }
  if (env?.sealcode !== 'card' || env.v !== 1 || env.kdf?.name !== 'scrypt') throw malformed('not a sealcode card file');
  const { N, r, p } = env.kdf;
  if (typeof env.kdf.salt !== 'string' || typeof env.nonce !== 'string' || typeof env.ct !== 'string')
    throw malformed('not a sealcode card file');
  // scrypt needs 128·r·(N + p + 1) bytes: past SCRYPT_MAXMEM it would throw a plain Error.
  if (![N, r, p].every(Number.isInteger) || N < 1024 || N > 1 << 22 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16 || 128 * r * (N + p + 1) > SCRYPT_MAXMEM)
    throw malformed('card file has out-of-range key-stretching parameters');
  return env;
}

/** What scrypt stretches: the passphrase NFKC-normalised, as UTF-8. */
export const passphraseBytes = (pass: string): Uint8Array => utf8(pass.normalize('NFKC'));
