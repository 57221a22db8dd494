// The native XChaCha20-Poly1305 of the master key must be byte-for-byte the cipher
// that sealed existing databases (@noble/ciphers), in both directions, and must refuse
// anything altered.
import { describe, expect, it } from 'vitest';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concat, utf8 } from '../../card/index.js';
import { openSecret, sealSecret } from '../../distributor/db/master-key.js';

describe('master key sealing', () => {
  it('opens what @noble sealed and seals what @noble opens, for many sizes', () => {
    for (let n = 0; n < 300; n += 17) {
      const master = randomBytes(32);
      const secret = randomBytes(n);
      const purpose = `redemption:red_${n}`;
      const nonce = randomBytes(24);
      const byNoble = concat(nonce, xchacha20poly1305(master, nonce, utf8(purpose)).encrypt(secret));
      expect(Buffer.from(openSecret(master, purpose, byNoble))).toEqual(Buffer.from(secret));
      const sealed = sealSecret(master, purpose, secret);
      expect(sealed.length).toBe(24 + n + 16);
      const opened = xchacha20poly1305(master, sealed.subarray(0, 24), utf8(purpose)).decrypt(sealed.subarray(24));
      expect(Buffer.from(opened)).toEqual(Buffer.from(secret));
    }
  });

  it('refuses another purpose, another key, a flipped bit anywhere, and short input', () => {
    const master = randomBytes(32);
    const sealed = sealSecret(master, 'issuer', randomBytes(32));
    expect(() => openSecret(master, 'group:g1', sealed)).toThrow(/master key/);
    expect(() => openSecret(randomBytes(32), 'issuer', sealed)).toThrow(/master key/);
    for (let i = 0; i < sealed.length; i += 7) {
      const bad = sealed.slice();
      bad[i]! ^= 1;
      expect(() => openSecret(master, 'issuer', bad)).toThrow(/master key/);
    }
    expect(() => openSecret(master, 'issuer', sealed.subarray(0, 39))).toThrow(/master key/);
  });
});
