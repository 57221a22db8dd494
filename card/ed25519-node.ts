// Native Ed25519 signing for Node services (distributor grants sign a build certificate
// per redemption; pure-JS signing was most of that cost). Node-only: not in the add-on.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, timingSafeEqual, type KeyObject } from 'node:crypto';
import { setFastEd25519Signer, setFastEd25519Verify, type Ed25519Signer } from './keys.js';

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// Node's JWK import requires an `x` string but builds the key from `d` alone (the public
// key is derived from the seed), so any well-formed placeholder will do.
const X_PLACEHOLDER = Buffer.alloc(32).toString('base64url');

// OpenSSL 3 decodes PKCS#8 DER through its generic decoder chain (~0.8 ms a key here);
// a JWK import of the same seed takes ~0.08 ms. DER stays as the fallback should a
// Node version ever refuse the placeholder.
let jwkWorks = true;
const privateKey = (seed: Uint8Array): KeyObject => {
  if (jwkWorks)
    try {
      return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(seed).toString('base64url'), x: X_PLACEHOLDER }, format: 'jwk' });
    } catch {
      const k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
      jwkWorks = false; // DER took this seed: it was the JWK path that failed
      return k;
    }
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
};

// A service signs with one key (the issuer's) over and over: keep its key object.
let lastSeed: Buffer | undefined;
let lastKey: KeyObject | undefined;
const signingKey = (seed: Uint8Array): KeyObject => {
  if (lastSeed && seed.length === 32 && timingSafeEqual(lastSeed, seed)) return lastKey!;
  const k = privateKey(seed);
  lastSeed = Buffer.from(seed);
  lastKey = k;
  return k;
};

export const nativeEd25519Signer: Ed25519Signer = {
  publicKey(seed) {
    const jwk = createPublicKey(privateKey(seed)).export({ format: 'jwk' });
    return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
  },
  sign(seed, msg) {
    return new Uint8Array(nodeSign(null, msg, signingKey(seed)));
  },
  // OpenSSL draws the seed (from its CSPRNG) and derives the public key in one call.
  generate() {
    const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    return { secretKey: new Uint8Array(Buffer.from(jwk.d as string, 'base64url')), publicKey: new Uint8Array(Buffer.from(jwk.x as string, 'base64url')) };
  },
};

export function useNativeEd25519Signing(): void {
  setFastEd25519Signer(nativeEd25519Signer);
}

/**
 * OpenSSL's check, for a command that checks a handful of certificates and one trailer
 * signature: pure JS took ~35 ms of an open's fixed cost here, most of it before the JIT
 * warmed up. card/keys.ts trusts it only to say yes and re-checks every no with @noble.
 */
export function nativeEd25519Verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' });
  return nodeVerify(null, msg, key, sig);
}

export function useNativeEd25519Verify(): void {
  setFastEd25519Verify(nativeEd25519Verify);
}
