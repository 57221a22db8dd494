// Keys sealed to a card's X25519 key: pair keys from the seller (Fig. 11, 18), code
// bundles and statements. An ephemeral X25519 agreement, HKDF, XChaCha20-Poly1305;
// the context string keeps one use from being replayed as another.
import { x25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concat, utf8 } from './bytes.js';
import { SealError, malformed } from './errors.js';
import { hkdf32 } from './keys.js';
import type { CardKeyOps } from './keyops.js';

const EPK = 32;
const NONCE = 24;

export function sealToCard(kxPub: Uint8Array, context: string, plaintext: Uint8Array): Uint8Array {
  const eph = x25519.utils.randomSecretKey();
  const epk = x25519.getPublicKey(eph);
  const shared = x25519.getSharedSecret(eph, kxPub);
  const key = hkdf32(shared, concat(epk, kxPub), 'sealcode to card v1 ' + context);
  const nonce = randomBytes(NONCE);
  return concat(epk, nonce, xchacha20poly1305(key, nonce, utf8(context)).encrypt(plaintext));
}

export function openToCard(kxSecret: Uint8Array, context: string, sealed: Uint8Array): Uint8Array {
  if (sealed.length < EPK + NONCE + 16) throw malformed('sealed data too short');
  const epk = sealed.subarray(0, EPK);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(kxSecret, epk);
  } catch {
    throw malformed('invalid ephemeral key');
  }
  return openWithShared(shared, x25519.getPublicKey(kxSecret), context, sealed);
}

/**
 * The same, with the agreement done by the card's key operations (a token keeps its
 * X25519 key inside and hands out only this message's shared secret).
 */
export async function openToCardWith(ops: CardKeyOps, kxPub: Uint8Array, context: string, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length < EPK + NONCE + 16) throw malformed('sealed data too short');
  return openWithShared(await ops.agree(sealed.subarray(0, EPK)), kxPub, context, sealed);
}

function openWithShared(shared: Uint8Array, kxPub: Uint8Array, context: string, sealed: Uint8Array): Uint8Array {
  const epk = sealed.subarray(0, EPK);
  const key = hkdf32(shared, concat(epk, kxPub), 'sealcode to card v1 ' + context);
  try {
    return xchacha20poly1305(key, sealed.subarray(EPK, EPK + NONCE), utf8(context)).decrypt(sealed.subarray(EPK + NONCE));
  } catch {
    throw new SealError('REFUSED', `not sealed to this card (${context})`);
  }
}
