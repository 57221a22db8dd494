// The master key seals the issuer's private key and the group keys at rest. It lives
// in DATA/master.key (mode 0600) or comes from SEALCODE_MASTER_KEY (base64, 32 bytes),
// so the database file alone reveals no secret.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concat, fromBase64, toBase64, utf8, SealError } from '../../card/index.js';

export const MASTER_KEY_FILE = 'master.key';

export function loadMasterKey(dataDir: string, create: boolean): Uint8Array {
  const env = process.env.SEALCODE_MASTER_KEY;
  if (env) {
    const k = fromBase64(env.trim());
    if (k.length !== 32) throw new SealError('USAGE', 'SEALCODE_MASTER_KEY must be 32 bytes in base64');
    return k;
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  if (existsSync(path)) {
    const k = fromBase64(readFileSync(path, 'utf8').trim());
    if (k.length !== 32) throw new SealError('MALFORMED', `${path} is not a sealcode master key`);
    return k;
  }
  if (!create) throw new SealError('USAGE', `no master key: ${path} is missing and SEALCODE_MASTER_KEY is not set`);
  const k = randomBytes(32);
  writeFileSync(path, toBase64(k) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return k;
}

/** Seals a secret for one purpose: a sealed group key cannot pass for the issuer key. */
export function sealSecret(master: Uint8Array, purpose: string, secret: Uint8Array): Uint8Array {
  const nonce = randomBytes(24);
  return concat(nonce, xchacha20poly1305(master, nonce, utf8(purpose)).encrypt(secret));
}

export function openSecret(master: Uint8Array, purpose: string, sealed: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305(master, sealed.subarray(0, 24), utf8(purpose)).decrypt(sealed.subarray(24));
  } catch {
    throw new SealError('BAD_PASSPHRASE', 'the master key does not open this database (wrong SEALCODE_MASTER_KEY?)');
  }
}
