// Key derivation and key pairs (docs/FORMAT.md §3). The PRF is HMAC-SHA256 keyed
// with the group key Ka; each use has its own label so that keys never collide.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { concat, utf8 } from './bytes.js';

export const KEY_LEN = 32;

const prf = (key: Uint8Array, label: string, input: string): Uint8Array =>
  hmac(sha256, key, concat(utf8(label), Uint8Array.of(0), utf8(input)));

/** K(serial): the patent's "secret key made by encrypting the code with the key for making a secret key". */
export const codeKey = (groupKey: Uint8Array, serial: string): Uint8Array => prf(groupKey, 'sealcode code key', serial);
/** ID mode (claim 17): the same rule with a purchaser-chosen ID. */
export const idKey = (groupKey: Uint8Array, id: string): Uint8Array => prf(groupKey, 'sealcode id key', id);
/** Card-to-card within one group. */
export const groupStanzaKey = (groupKey: Uint8Array, groupId: string): Uint8Array =>
  prf(groupKey, 'sealcode group key', groupId);

export const hkdf32 = (ikm: Uint8Array, salt: Uint8Array, info: string): Uint8Array =>
  hkdf(sha256, ikm, salt, utf8(info), 32);

export const randomKey = (): Uint8Array => randomBytes(KEY_LEN);
export { randomBytes };

export interface SigningKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * A Node service may install native Ed25519 signing (card/ed25519-node.ts): Ed25519
 * is deterministic, so the bytes are exactly those @noble would produce, only faster.
 */
export interface Ed25519Signer {
  publicKey(secretKey: Uint8Array): Uint8Array;
  sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array;
  /** A fresh key pair (optional: else a random seed and publicKey()). */
  generate?(): SigningKeyPair;
}
let fastSigner: Ed25519Signer | undefined;
export function setFastEd25519Signer(s: Ed25519Signer | undefined): void {
  fastSigner = s;
}

export function newSigningKey(): SigningKeyPair {
  if (fastSigner?.generate) return fastSigner.generate();
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: signingPublicKey(secretKey) };
}
export const signingPublicKey = (secretKey: Uint8Array): Uint8Array =>
  fastSigner ? fastSigner.publicKey(secretKey) : ed25519.getPublicKey(secretKey);

export function newAgreementKey(): SigningKeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export const sign = (secretKey: Uint8Array, msg: Uint8Array): Uint8Array =>
  fastSigner ? fastSigner.sign(secretKey, msg) : ed25519.sign(msg, secretKey);
export type Ed25519Verify = (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;
let fastVerify: Ed25519Verify | undefined;
/**
 * Lets a Node service (the gateway) install a native Ed25519 check. It is only trusted
 * to say yes: a "no" is re-checked here, so results stay exactly those of @noble.
 */
export function setFastEd25519Verify(f: Ed25519Verify | undefined): void {
  fastVerify = f;
}
export function verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    if (fastVerify?.(publicKey, msg, sig)) return true;
  } catch {
    /* fall through to the reference check */
  }
  try {
    return ed25519.verify(sig, msg, publicKey);
  } catch {
    return false;
  }
}
export { sha256 };
