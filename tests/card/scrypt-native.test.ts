// A derivation started ahead of need (the CLI's card file key) is handed over only to
// a caller with exactly its passphrase, salt and cost; anyone else gets their own.
import { describe, expect, it } from 'vitest';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { nativeScrypt, startScrypt } from '../../card/scrypt-native.js';
import { utf8 } from '../../card/bytes.js';

const reference = (pass: string, salt: Uint8Array, N: number) => scryptAsync(utf8(pass), salt, { N, r: 8, p: 1, dkLen: 32 });
const salt = Uint8Array.from({ length: 16 }, (_, i) => i);

describe('native scrypt started ahead of need', () => {
  it('the same passphrase, salt and cost get the started key, the bytes of the reference scrypt', async () => {
    startScrypt(utf8('correct horse'), salt, 1024, 8, 1);
    expect(await nativeScrypt(utf8('correct horse'), salt, 1024, 8, 1)).toEqual(await reference('correct horse', salt, 1024));
  });

  it('another passphrase of the same length never gets the started key', async () => {
    startScrypt(utf8('correct horse'), salt, 1024, 8, 1);
    expect(await nativeScrypt(utf8('correct hors!'), salt, 1024, 8, 1)).toEqual(await reference('correct hors!', salt, 1024));
    // Handed over at most once: the started one is gone, the right passphrase derives anew.
    expect(await nativeScrypt(utf8('correct horse'), salt, 1024, 8, 1)).toEqual(await reference('correct horse', salt, 1024));
  });

  it('another salt or cost is another derivation', async () => {
    startScrypt(utf8('correct horse'), salt, 1024, 8, 1);
    const other = salt.map((b) => b ^ 1);
    expect(await nativeScrypt(utf8('correct horse'), other, 1024, 8, 1)).toEqual(await reference('correct horse', other, 1024));
    expect(await nativeScrypt(utf8('correct horse'), salt, 2048, 8, 1)).toEqual(await reference('correct horse', salt, 2048));
    expect(await nativeScrypt(utf8('correct horse'), salt, 1024, 8, 1)).toEqual(await reference('correct horse', salt, 1024));
  });

  it('a started derivation that fails surfaces nowhere, and the caller gets its own error', async () => {
    // N = 2^20, r = 64 needs 8 GiB, past maxmem: OpenSSL refuses.
    startScrypt(utf8('x'), salt, 1 << 20, 64, 1);
    await new Promise((r) => setTimeout(r, 50)); // an unhandled rejection would fail the run here
    await expect(nativeScrypt(utf8('x'), salt, 1 << 20, 64, 1)).rejects.toThrow();
  });
});
