// Node's native Ed25519 verification for the gateway's hot path (some 10-30x faster
// than pure JS here). Installed through card/keys.ts, which re-checks every "no" with
// @noble, so verdicts are identical: RFC 8032 signatures that OpenSSL accepts are a
// subset of those @noble (ZIP 215) accepts.
//
// Successful checks are remembered, keyed by a SHA-256 of the exact public key,
// signature and message: the same card and build certificates arrive on mail after
// mail, and a signature check costs a quarter of a millisecond on a small server.
import crypto from 'node:crypto';
import { setFastEd25519Verify } from '../card/keys.js';
import { useNativeEd25519Signing } from '../card/ed25519-node.js';

const keys = new Map<string, crypto.KeyObject>();
const verified = new Set<string>();
const MAX_KEYS = 4096;
const MAX_VERIFIED = 16384;
// Only messages this small are remembered (certificates); container digests are unique.
const CACHE_MSG_MAX = 4096;

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
  const cacheable = msg.length > 64 && msg.length <= CACHE_MSG_MAX;
  let id: string | undefined;
  if (cacheable) {
    id = crypto.createHash('sha256').update(pub).update(sig).update(msg).digest('base64');
    if (verified.has(id)) return true;
  }
  const ok = crypto.verify(null, msg, keyObject(pub), sig);
  if (ok && id) {
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.add(id);
  }
  return ok;
}

/** Native checks (here) and native signing (card/, for sealing on the SMTP side). */
export function useNativeEd25519(): void {
  setFastEd25519Verify(nativeEd25519Verify);
  useNativeEd25519Signing();
}
