// Native signing must give exactly the bytes of the pure-JS reference, and native
// checks the same verdicts.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { nativeEd25519Signer, useNativeEd25519Verify } from '../../card/node.js';
import { nativeEd25519Verify } from '../../card/ed25519-node.js';
import { setFastEd25519Verify, verify } from '../../card/keys.js';

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

describe('native Ed25519 check', () => {
  it('says what @noble says for good, changed and misfitted signatures, alone and through card/keys', () => {
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < 20; i++) {
      const seed = randomBytes(32);
      const pub = ed25519.getPublicKey(seed);
      const msg = randomBytes(i * 9);
      const sig = ed25519.sign(msg, seed);
      const flipped = sig.slice();
      flipped[i % 64]! ^= 1 << i % 8;
      const otherMsg = msg.length ? msg.slice(1) : new Uint8Array(1);
      cases.push([pub, msg, sig], [pub, msg, flipped], [pub, otherMsg, sig], [ed25519.getPublicKey(randomBytes(32)), msg, sig]);
      cases.push([pub.subarray(1), msg, sig], [pub, msg, sig.subarray(1)]);
    }
    const noble = (p: Uint8Array, m: Uint8Array, s: Uint8Array): boolean => {
      try {
        return ed25519.verify(s, m, p);
      } catch {
        return false;
      }
    };
    expect(cases.filter(([p, m, s]) => noble(p, m, s)).length).toBe(20);
    for (const [p, m, s] of cases) expect(nativeEd25519Verify(p, m, s)).toBe(noble(p, m, s));
    useNativeEd25519Verify();
    try {
      for (const [p, m, s] of cases) expect(verify(p, m, s)).toBe(noble(p, m, s));
    } finally {
      setFastEd25519Verify(undefined);
    }
  });
});
