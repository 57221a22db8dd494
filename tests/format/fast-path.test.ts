// The fast path (pull sources, recycled buffers, cli/seal-files.ts) writes the same
// format as the plain path, byte for byte, and keeps the whole-or-nothing rule on disk.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fromHex, isSealError, openSealed, seal, toHex, type PullSource } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { openFile, sealFile } from '../../cli/seal-files.js';
// collect() copies each chunk as it arrives, which the recycled-buffer contract allows.
import { collect } from '../support/world.js';
import { partiesOf, resealOptions, type ContainerVector, type VectorKeys } from '../vectors/parties.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const keys = load<VectorKeys>('keys.json');
const { vectors } = load<{ vectors: ContainerVector[] }>('containers.json');
const parties = partiesOf(keys);
const issuerPub = fromHex(keys.issuer.public);

/** A pull source over bytes that hands out at most `step` bytes per read. */
function pullOf(b: Uint8Array, step = 1 << 30): PullSource & { reads: number } {
  let off = 0;
  const s = {
    reads: 0,
    async read(into: Uint8Array) {
      s.reads++;
      const n = Math.min(into.length, step, b.length - off);
      into.set(b.subarray(off, off + n));
      off += n;
      return n;
    },
  };
  return s;
}

describe('pull sources and recycled buffers give the vector bytes', () => {
  for (const v of vectors) {
    for (const step of [7, 4096, 1 << 30])
      it(`${v.name}: seal from a pull source (reads of ≤${step} bytes)`, async () => {
        const out = await collect(
          seal(pullOf(fromHex(v.plaintext), step), {
            ...resealOptions(v, parties),
            primitives: nodePrimitives,
            reuseBuffers: true,
          }),
        );
        expect(toHex(out)).toBe(v.container);
      });

    it(`${v.name}: open from a pull source with recycled buffers`, async () => {
      const o = await openSealed(pullOf(fromHex(v.container), 5000), {
        receiver: parties[v.openers[0]!]!,
        issuerPub,
        now: v.now,
        primitives: nodePrimitives,
        reuseBuffers: true,
      });
      expect(toHex(await collect(o.content))).toBe(v.plaintext);
    });
  }

  it('a pull input shorter or longer than the stated size is refused (USAGE), not sealed', async () => {
    const v = vectors[0]!;
    const pt = fromHex(v.plaintext);
    for (const input of [pt.subarray(0, pt.length - 1), Uint8Array.from([...pt, 1])]) {
      const err = await collect(
        seal(pullOf(input), {
          sender: parties.A!,
          recipients: [{ kind: 'code', label: v.recipients[0]!.label }],
          meta: v.meta,
          chunkLog2: 16,
          primitives: nodePrimitives,
          reuseBuffers: true,
        }),
      ).then(() => null, (e: unknown) => e);
      expect(isSealError(err, 'USAGE')).toBe(true);
    }
  });
});

describe('cli/seal-files.ts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-files-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const v = vectors.find((x) => x.name === 'card-origin')!;
  const serial = v.recipients[0]!.label;
  const input = path.join(dir, 'report.pdf');
  const data = new Uint8Array(3 * (1 << 20) + 12345).map((_, i) => (i * 13) & 255);
  fs.writeFileSync(input, data);
  const leftovers = () => fs.readdirSync(dir).filter((f) => f.endsWith('.part'));

  it('seals and opens a multi-chunk file, reporting progress', async () => {
    const out = path.join(dir, 'report.pdf.seal');
    const seen: number[] = [];
    const meta = await sealFile(input, out, {
      sender: parties.A!,
      recipients: [{ kind: 'code', label: serial }],
      now: v.now,
      onProgress: (done, total) => {
        expect(total).toBe(data.length);
        seen.push(done);
      },
    });
    expect(meta).toEqual({ name: 'report.pdf', type: 'application/octet-stream', size: data.length });
    expect(seen.at(-1)).toBe(data.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const r = await openFile(out, (m) => path.join(dir, 'opened-' + m.name), { receiver: parties.D1!, issuerPub, now: v.now });
    expect(r.path).toBe(path.join(dir, 'opened-report.pdf'));
    expect(r.verdict.certified).toBe(true);
    expect(Buffer.compare(fs.readFileSync(r.path), data)).toBe(0);
    expect(leftovers()).toEqual([]);
  });

  it('a tampered container leaves no output and no temporary file', async () => {
    const out = path.join(dir, 't.seal');
    await sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }], now: v.now, fsync: false });
    const b = fs.readFileSync(out);
    b[b.length - 200]! ^= 1; // in the last chunk: everything before it authenticates and is written
    fs.writeFileSync(out, b);
    const target = path.join(dir, 't.out');
    const err = await openFile(out, target, { receiver: parties.D1!, issuerPub, now: v.now }).then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'TAMPERED')).toBe(true);
    expect(fs.existsSync(target)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('a container for someone else leaves nothing (NOT_FOR_US)', async () => {
    const out = path.join(dir, 'n.seal');
    await sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }], now: v.now, fsync: false });
    const err = await openFile(out, path.join(dir, 'n.out'), { receiver: parties.D2!, issuerPub, now: v.now }).then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'NOT_FOR_US')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'n.out'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('refuses to replace an existing file unless asked', async () => {
    const out = path.join(dir, 'exists.seal');
    fs.writeFileSync(out, 'keep me');
    const err = await sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }] }).then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'USAGE')).toBe(true);
    expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
    await sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }], overwrite: true, now: v.now });
    expect(fs.statSync(out).size).toBeGreaterThan(data.length);
    expect(leftovers()).toEqual([]);
  });

  it('a missing input is USAGE and writes nothing', async () => {
    const err = await sealFile(path.join(dir, 'nope'), path.join(dir, 'nope.seal'), { sender: parties.A!, recipients: [{ kind: 'code', label: serial }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isSealError(err, 'USAGE')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'nope.seal'))).toBe(false);
  });
});

describe('sealing refuses what no receiver would open', () => {
  for (const name of ['', '.', '..', 'a/b', 'a\\b', 'nul\0x'])
    it(`file name ${JSON.stringify(name)}: USAGE before any byte is produced`, async () => {
      const gen = seal(pullOf(new Uint8Array(10)), {
        sender: parties.A!,
        recipients: [{ kind: 'code', label: vectors[0]!.recipients[0]!.label }],
        meta: { name, type: 'x', size: 10 },
        primitives: nodePrimitives,
      });
      const err = await gen.next().then(() => null, (e: unknown) => e);
      expect(isSealError(err, 'USAGE')).toBe(true);
    });
});
