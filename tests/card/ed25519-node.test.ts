// Native signing must give exactly the bytes of the pure-JS reference.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { nativeEd25519Signer } from '../../card/node.js';

describe('native Ed25519 signer', () => {
  it('matches @noble for public keys and signatures', () => {
    for (let i = 0; i < 50; i++) {
      const seed = randomBytes(32);
      const msg = randomBytes(i * 7);
      expect(Buffer.from(nativeEd25519Signer.publicKey(seed))).toEqual(Buffer.from(ed25519.getPublicKey(seed)));
      expect(Buffer.from(nativeEd25519Signer.sign(seed, msg))).toEqual(Buffer.from(ed25519.sign(msg, seed)));
    }
  });
});

describe('native Ed25519 key generation and the kept signing key', () => {
  it('generates pairs @noble agrees with, and signs right when the key changes back and forth', () => {
    const a = nativeEd25519Signer.generate!();
    const b = nativeEd25519Signer.generate!();
    expect(a.secretKey.length).toBe(32);
    expect(Buffer.from(a.secretKey)).not.toEqual(Buffer.from(b.secretKey));
    for (const k of [a, b]) expect(Buffer.from(k.publicKey)).toEqual(Buffer.from(ed25519.getPublicKey(k.secretKey)));
    for (const k of [a, a, b, a, b, b]) {
      const msg = randomBytes(40);
      expect(Buffer.from(nativeEd25519Signer.sign(k.secretKey, msg))).toEqual(Buffer.from(ed25519.sign(msg, k.secretKey)));
    }
    // A caller that reuses (and overwrites) one seed array gets the new key, not the kept one.
    const seed = a.secretKey.slice();
    nativeEd25519Signer.sign(seed, new Uint8Array(1));
    seed.set(b.secretKey);
    const msg = randomBytes(10);
    expect(Buffer.from(nativeEd25519Signer.sign(seed, msg))).toEqual(Buffer.from(ed25519.sign(msg, b.secretKey)));
  });
});
