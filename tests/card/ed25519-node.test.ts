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
