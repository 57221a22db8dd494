// The Node file path (card/container/file-node.ts through cli/seal-files.ts) writes the
// vector bytes exactly, opens them, and reports every damaged file exactly as the
// streaming reader does, leaving neither output nor temporary file behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, isSealError, openSealed, toHex } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import type { Primitives } from '../../card/container/primitives.js';
import { openFile, sealFile } from '../../cli/seal-files.js';
import { collect } from '../support/world.js';
import { partiesOf, resealOptions, type ContainerVector, type VectorKeys } from '../vectors/parties.js';

const load = <T>(name: string): T => JSON.parse(fs.readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const keys = load<VectorKeys>('keys.json');
const { vectors } = load<{ vectors: ContainerVector[] }>('containers.json');
const parties = partiesOf(keys);
const issuerPub = fromHex(keys.issuer.public);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-filepath-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const leftovers = (d: string) => fs.readdirSync(d).filter((f) => f.endsWith('.part'));
const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as Error);

describe('file path: the vector bytes, both ways', () => {
  for (const v of vectors) {
    it(`${v.name}: sealFile writes the vector container`, async () => {
      const d = fs.mkdtempSync(path.join(dir, 'v-'));
      const input = path.join(d, v.meta.name);
      fs.writeFileSync(input, fromHex(v.plaintext));
      const { meta, ...opts } = resealOptions(v, parties);
      const out = path.join(d, 'out.seal');
      await sealFile(input, out, { ...opts, meta: { name: meta.name, type: meta.type }, primitives: nodePrimitives, fsync: false });
      expect(toHex(fs.readFileSync(out))).toBe(v.container);
    });

    it(`${v.name}: openFile gives the vector plaintext`, async () => {
      const d = fs.mkdtempSync(path.join(dir, 'o-'));
      const input = path.join(d, 'in.seal');
      fs.writeFileSync(input, fromHex(v.container));
      const r = await openFile(input, path.join(d, 'out'), { receiver: parties[v.openers[0]!]!, issuerPub, now: v.now, fsync: false });
      expect(r.meta).toEqual(v.meta);
      expect(toHex(fs.readFileSync(r.path))).toBe(v.plaintext);
    });
  }
});

describe('file path: damaged containers', () => {
  const v = vectors.find((x) => x.name === 'card-origin')!;
  const serial = v.recipients[0]!.label;
  const data = new Uint8Array(3 * (1 << 16) + 777).map((_, i) => (i * 7) & 255);
  const sealed = async (): Promise<Uint8Array> => {
    const input = path.join(dir, 'damage.bin');
    fs.writeFileSync(input, data);
    const out = path.join(dir, 'damage.seal');
    fs.rmSync(out, { force: true });
    await sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }], now: v.now, chunkLog2: 16, fsync: false });
    return new Uint8Array(fs.readFileSync(out));
  };

  it('every truncation and changed byte reads as the streaming reader reads it, and leaves nothing', async () => {
    const good = await sealed();
    const headerLen = 13 + new DataView(good.buffer, good.byteOffset + 9, 4).getUint32(0) + 32;
    const damaged: [string, Uint8Array][] = [];
    for (const cut of [0, 5, 13, headerLen - 1, headerLen, headerLen + 16, headerLen + 70000, good.length - 65, good.length - 64, good.length - 1])
      damaged.push([`cut to ${cut}`, good.subarray(0, cut)]);
    for (const at of [9, headerLen - 1, headerLen + 3, headerLen + (1 << 16) + 20, good.length - 100, good.length - 1]) {
      const b = good.slice();
      b[at]! ^= 1;
      damaged.push([`byte ${at} changed`, b]);
    }
    damaged.push(['one byte appended', Uint8Array.from([...good, 0])]);
    const d = fs.mkdtempSync(path.join(dir, 'd-'));
    for (const [what, bytes] of damaged) {
      const file = path.join(d, 'x.seal');
      fs.writeFileSync(file, bytes);
      const target = path.join(d, 'x.out');
      const viaFile = await failure(openFile(file, target, { receiver: parties.D1!, issuerPub, now: v.now, fsync: false }));
      const viaStream = await failure(
        (async () => {
          const o = await openSealed((async function* () { yield bytes; })(), { receiver: parties.D1!, issuerPub, now: v.now, primitives: nodePrimitives });
          await collect(o.content);
        })(),
      );
      expect(viaStream, what).not.toBeNull();
      expect(viaFile && [viaFile.name, (viaFile as { code?: string }).code, viaFile.message], what).toEqual([viaStream!.name, (viaStream as { code?: string }).code, viaStream!.message]);
      expect(fs.existsSync(target), what).toBe(false);
      expect(leftovers(d), what).toEqual([]);
    }
  });

  it('an input that shrinks or grows while it is sealed is refused (USAGE) and leaves nothing', async () => {
    const d = fs.mkdtempSync(path.join(dir, 's-'));
    const input = path.join(d, 'moving.bin');
    for (const change of ['shrink', 'grow'] as const) {
      fs.writeFileSync(input, data);
      let changed = false;
      const out = path.join(d, 'moving.seal');
      const err = await failure(
        sealFile(input, out, {
          sender: parties.A!,
          recipients: [{ kind: 'code', label: serial }],
          now: v.now,
          chunkLog2: 16,
          fsync: false,
          onProgress: (done) => {
            if (changed || done === 0) return;
            changed = true;
            if (change === 'shrink') fs.truncateSync(input, data.length - 10);
            else fs.appendFileSync(input, 'x');
          },
        }),
      );
      expect(isSealError(err, 'USAGE'), change).toBe(true);
      expect(err!.message, change).toMatch(/file changed while sealing/);
      expect(fs.existsSync(out), change).toBe(false);
      expect(leftovers(d), change).toEqual([]);
    }
  });
  // The loops read ahead and write behind on the thread pool. A failure must not leave
  // one of those running: the caller closes the descriptors (and another open may get
  // the same numbers) as soon as the promise settles.
  let inFlight = 0;
  const counting = <F extends (...a: never[]) => void>(orig: F): F =>
    ((...args: unknown[]) => {
      const cb = args.pop() as (...r: unknown[]) => void;
      inFlight++;
      (orig as unknown as (...a: unknown[]) => void)(...args, (...r: unknown[]) => {
        inFlight--;
        cb(...r);
      });
    }) as unknown as F;
  const read = fs.read;
  const write = fs.write;
  beforeAll(() => {
    fs.read = counting(read);
    fs.write = counting(write);
  });
  afterAll(() => {
    fs.read = read;
    fs.write = write;
  });
  const fsInFlight = (): number => inFlight;

  it('a chunk that fails to open leaves no read or write in flight', async () => {
    const good = await sealed();
    const headerLen = 13 + new DataView(good.buffer, good.byteOffset + 9, 4).getUint32(0) + 32;
    const bad = good.slice();
    bad[headerLen + 2 * ((1 << 16) + 16) + 5]! ^= 1; // chunk 2: chunk 3 is being read, chunk 1 written
    const d = fs.mkdtempSync(path.join(dir, 'f-'));
    const file = path.join(d, 'x.seal');
    fs.writeFileSync(file, bad);
    expect(fsInFlight()).toBe(0);
    const err = await failure(openFile(file, path.join(d, 'x.out'), { receiver: parties.D1!, issuerPub, now: v.now, fsync: false }));
    expect(isSealError(err, 'TAMPERED')).toBe(true);
    expect(err!.message).toMatch(/chunk 2 does not authenticate/);
    expect(fsInFlight()).toBe(0);
    expect(leftovers(d)).toEqual([]);
  });

  it('a cipher that fails mid-seal leaves no read or write in flight', async () => {
    const input = path.join(dir, 'midseal.bin');
    fs.writeFileSync(input, data);
    const base = await nodePrimitives.cipher(new Uint8Array(32));
    const failing: Primitives = {
      ...nodePrimitives,
      cipher: async (key) => {
        const c = await nodePrimitives.cipher(key);
        let calls = 0;
        return {
          ...base,
          sealInto: (nonce, pt, out) => {
            if (++calls === 3) throw new Error('cipher failed');
            c.sealInto!(nonce, pt, out);
          },
        };
      },
    };
    const out = path.join(dir, 'midseal.seal');
    const err = await failure(sealFile(input, out, { sender: parties.A!, recipients: [{ kind: 'code', label: serial }], now: v.now, chunkLog2: 16, fsync: false, primitives: failing }));
    expect(err?.message).toBe('cipher failed');
    expect(fsInFlight()).toBe(0);
    expect(fs.existsSync(out)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});
