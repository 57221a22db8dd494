// The second-core SHA-256 (card/container/hash-thread-node.ts) must equal node:crypto's
// for any split of the input, with several hashes interleaved and some abandoned; and a
// big container sealed with it is byte-identical to one hashed inline.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { threadedSha256 } from '../../card/container/hash-thread-node.js';
import { nodePrimitives } from '../../card/node.js';
import { fromHex, type Primitives } from '../../card/index.js';
import { openFile, sealFile } from '../../cli/seal-files.js';
import { partiesOf, type VectorKeys } from '../vectors/parties.js';

const ref = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('threaded SHA-256', () => {
  it('matches node:crypto for pieces of every size, interleaved, with abandoned hashes', () => {
    const data = randomBytes(5 * (1 << 20) + 777);
    const cuts = [0, 1, 63, 64, 65, 1 << 20, (1 << 20) + 1, 3 * (1 << 20), data.length];
    for (const step of [1 << 10, 100_000, 1 << 20, (1 << 20) + 3, 3 << 20]) {
      const a = threadedSha256()!;
      const b = threadedSha256()!;
      const abandoned = threadedSha256()!;
      abandoned.update(data.subarray(0, 12345));
      for (let o = 0; o < data.length; o += step) {
        a.update(data.subarray(o, o + step));
        b.update(data.subarray(0, 10));
      }
      expect(hex(a.digest())).toBe(ref(data));
      const tens = Buffer.concat(Array.from({ length: Math.ceil(data.length / step) }, () => data.subarray(0, 10)));
      expect(hex(b.digest())).toBe(ref(tens));
    }
    for (const n of cuts) {
      const h = threadedSha256()!;
      h.update(data.subarray(0, n));
      expect(hex(h.digest())).toBe(ref(data.subarray(0, n)));
    }
    const empty = threadedSha256()!;
    expect(hex(empty.digest())).toBe(ref(new Uint8Array(0)));
  });

  it('a container over the threshold is the same with the threaded and the inline hash', async () => {
    const keys = JSON.parse(fs.readFileSync(new URL('../vectors/keys.json', import.meta.url), 'utf8')) as VectorKeys;
    const certs = JSON.parse(fs.readFileSync(new URL('../vectors/certs.json', import.meta.url), 'utf8')) as { build: { fields: { serial: string } } };
    const p = partiesOf(keys);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-hash-'));
    try {
      const input = path.join(dir, 'big.bin');
      const data = randomBytes(17 * (1 << 20) + 5);
      fs.writeFileSync(input, data);
      const now = Date.UTC(2026, 0, 15, 12);
      const fixed = (n: number) => new Uint8Array(n).fill(n);
      const inlineOnly: Primitives = { cipher: nodePrimitives.cipher, sha256: nodePrimitives.sha256 };
      const opts = { sender: p.A!, recipients: [{ kind: 'code' as const, label: certs.build.fields.serial }], now, random: fixed, fsync: false };
      await sealFile(input, path.join(dir, 'threaded.seal'), { ...opts, primitives: nodePrimitives });
      await sealFile(input, path.join(dir, 'inline.seal'), { ...opts, primitives: inlineOnly });
      const t = fs.readFileSync(path.join(dir, 'threaded.seal'));
      expect(Buffer.compare(t, fs.readFileSync(path.join(dir, 'inline.seal')))).toBe(0);
      const r = await openFile(path.join(dir, 'threaded.seal'), path.join(dir, 'out.bin'), {
        receiver: p.D1!,
        issuerPub: fromHex(keys.issuer.public),
        now,
        fsync: false,
      });
      expect(r.verdict.certified).toBe(true);
      expect(Buffer.compare(fs.readFileSync(path.join(dir, 'out.bin')), data)).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
