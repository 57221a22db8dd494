// Native Ed25519 signing for Node services (distributor grants sign a build certificate
// per redemption; pure-JS signing was most of that cost). Node-only: not in the add-on.
import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto';
import { setFastEd25519Signer, type Ed25519Signer } from './keys.js';

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const privateKey = (seed: Uint8Array) =>
  createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });

export const nativeEd25519Signer: Ed25519Signer = {
  publicKey(seed) {
    const jwk = createPublicKey(privateKey(seed)).export({ format: 'jwk' });
    return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
  },
  sign(seed, msg) {
    return new Uint8Array(nodeSign(null, msg, privateKey(seed)));
  },
};

export function useNativeEd25519Signing(): void {
  setFastEd25519Signer(nativeEd25519Signer);
}
