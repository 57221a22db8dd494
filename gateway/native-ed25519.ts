// Node's native Ed25519 verification for the gateway's hot path (some 30x faster than
// pure JS here). Installed through card/keys.ts, which re-checks every "no" with
// @noble, so verdicts are identical; RFC 8032 signatures that OpenSSL accepts are a
// subset of those @noble (ZIP 215) accepts.
import crypto from 'node:crypto';
import { setFastEd25519Verify } from '../card/keys.js';

const keys = new Map<string, crypto.KeyObject>();
const MAX_KEYS = 4096;

function keyObject(pub: Uint8Array): crypto.KeyObject {
  const id = Buffer.from(pub).toString('base64url');
  let k = keys.get(id);
  if (!k) {
    k = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' });
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(id, k);
  }
  return k;
}

export function nativeEd25519Verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  return crypto.verify(null, msg, keyObject(pub), sig);
}

export function useNativeEd25519(): void {
  setFastEd25519Verify(nativeEd25519Verify);
}
