// The master key seals the issuer's private key and the group keys at rest. It lives
// in DATA/master.key (mode 0600) or comes from SEALCODE_MASTER_KEY (base64, 32 bytes),
// so the database file alone reveals no secret.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { concat, fromBase64, toBase64, utf8, SealError } from '../../card/index.js';
import { writePrivateFile } from './private-files.js';

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
  const k = new Uint8Array(randomBytes(32));
  if (!writePrivateFile(path, toBase64(k) + '\n')) return loadMasterKey(dataDir, false);
  return k;
}

// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) on OpenSSL, the same bytes as
// @noble/ciphers' xchacha20poly1305 (tests/distributor/master-key.test.ts checks both
// ways): the pure-JS cipher was the largest cost of opening a redemption's sealed profile.
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
const ZERO_BLOCK = Buffer.alloc(64);

/** HChaCha20: the ChaCha20 block of (key, nonce16) before the feed-forward, words 0-3 and 12-15. */
function hchacha20(key: Uint8Array, nonce16: Uint8Array): Buffer {
  // OpenSSL's chacha20 takes a 16-byte IV that fills state words 12-15, so its first
  // keystream block is the permutation plus that state; subtract the state back out.
  const iv = Buffer.from(nonce16);
  const block = createCipheriv('chacha20', key, iv).update(ZERO_BLOCK);
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) {
    out.writeUInt32LE((block.readUInt32LE(4 * i) - SIGMA[i]!) >>> 0, 4 * i);
    out.writeUInt32LE((block.readUInt32LE(48 + 4 * i) - iv.readUInt32LE(4 * i)) >>> 0, 16 + 4 * i);
  }
  return out;
}

function xchachaParams(master: Uint8Array, nonce: Uint8Array): { key: Buffer; iv: Buffer } {
  if (master.length !== 32 || nonce.length !== 24) throw new Error('bad key or nonce length');
  const iv = Buffer.alloc(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { key: hchacha20(master, nonce.subarray(0, 16)), iv };
}

/** Seals a secret for one purpose: a sealed group key cannot pass for the issuer key. */
export function sealSecret(master: Uint8Array, purpose: string, secret: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(randomBytes(24));
  const { key, iv } = xchachaParams(master, nonce);
  const c = createCipheriv('chacha20-poly1305', key, iv, { authTagLength: 16 });
  c.setAAD(utf8(purpose), { plaintextLength: secret.length });
  return concat(nonce, c.update(secret), c.final(), c.getAuthTag());
}

export function openSecret(master: Uint8Array, purpose: string, sealed: Uint8Array): Uint8Array {
  try {
    if (sealed.length < 24 + 16) throw new Error('too short');
    const { key, iv } = xchachaParams(master, sealed.subarray(0, 24));
    const d = createDecipheriv('chacha20-poly1305', key, iv, { authTagLength: 16 });
    const body = sealed.subarray(24, sealed.length - 16);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    d.setAAD(utf8(purpose), { plaintextLength: body.length });
    return new Uint8Array(Buffer.concat([d.update(body), d.final()]));
  } catch {
    throw new SealError('BAD_PASSPHRASE', 'the master key does not open this database (wrong SEALCODE_MASTER_KEY?)');
  }
}
