// The passphrase-sealed card file: right passphrase opens, anything else is a typed error.
import { describe, expect, it } from 'vitest';
import { isSealError, openCardFile, sealCardFile } from '../../card/index.js';
import { makeWorld } from '../support/world.js';
import { setScrypt } from '../../card/cardfile.js';
import { useNativeScrypt } from '../../card/scrypt-node.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';

const codeOf = async (p: Promise<unknown>) => p.then(() => 'opened', (e: unknown) => (isSealError(e) ? e.code : e));

describe('card file', () => {
  const w = makeWorld();
  // A small scrypt cost keeps the test fast; the cost travels in the envelope.
  const sealed = sealCardFile(w.A.data, 'correct horse', 1024);

  it('opens with its passphrase and keeps every field', async () => {
    expect(await openCardFile(await sealed, 'correct horse')).toEqual(w.A.data);
  });

  it('a wrong passphrase is BAD_PASSPHRASE', async () => {
    expect(await codeOf(openCardFile(await sealed, 'correct hors'))).toBe('BAD_PASSPHRASE');
  });

  it('a changed ciphertext reads as a wrong passphrase or change, never as a crash', async () => {
    const env = JSON.parse(await sealed);
    env.ct = env.ct.slice(0, 10) + (env.ct[10] === 'A' ? 'B' : 'A') + env.ct.slice(11);
    expect(await codeOf(openCardFile(JSON.stringify(env), 'correct horse'))).toBe('BAD_PASSPHRASE');
  });

  it('malformed envelopes are MALFORMED', async () => {
    const env = JSON.parse(await sealed);
    for (const bad of ['', 'not json', '{}', JSON.stringify({ ...env, kdf: { ...env.kdf, salt: 5 } }), JSON.stringify({ ...env, kdf: { ...env.kdf, N: 1000 } }), JSON.stringify({ ...env, v: 2 })])
      expect(await codeOf(openCardFile(bad, 'correct horse'))).toBe('MALFORMED');
  });

  it('refuses an empty passphrase when sealing', async () => {
    expect(await codeOf(sealCardFile(w.A.data, '', 1024))).toBe('USAGE');
  });

  it("a card sealed with Node's native scrypt opens with the pure-JS one (the add-on's), and back", async () => {
    const noble = (pass: Uint8Array, salt: Uint8Array, N: number, r: number, p: number) => scryptAsync(pass, salt, { N, r, p, dkLen: 32 });
    useNativeScrypt();
    const byNative = await sealCardFile(w.A.data, 'correct horse', 1024);
    setScrypt(noble);
    expect(await openCardFile(byNative, 'correct horse')).toEqual(w.A.data);
    const byNoble = await sealCardFile(w.A.data, 'correct horse', 1024);
    useNativeScrypt();
    try {
      expect(await openCardFile(byNoble, 'correct horse')).toEqual(w.A.data);
      expect(await codeOf(openCardFile(byNoble, 'correct hors'))).toBe('BAD_PASSPHRASE');
    } finally {
      setScrypt(noble);
    }
  });
});
