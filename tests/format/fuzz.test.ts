// Fuzzing every parser that takes outside bytes: random and mutated inputs end in a
// SealError, never another exception and never a hang.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SealError,
  SourceReader,
  decodeCert,
  decodeHeader,
  openSealed,
  parseCode,
  readHeader,
  verifySealed,
  verifyCert,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { chunksOf, collect, makeWorld, partyOfBuild, partyOfCard, sealBytes } from '../support/world.js';

const w = makeWorld();
const ip = w.issuer.publicKey;
const A = partyOfCard(w.A);
const D1 = partyOfBuild(w.D1);
const small = await sealBytes(A, [{ kind: 'code', label: w.serialA }], new Uint8Array(300).fill(7), {
  addressees: [w.A.certBytes],
});
const signOnly = await sealBytes(A, [], new Uint8Array(200).fill(9), { signOnly: true });
const headerLen = decodeHeader(small.subarray(0, 13 + new DataView(small.buffer, small.byteOffset + 9, 4).getUint32(0) + 32)).bytes.length;
const header = small.subarray(0, headerLen);

/** Only SealErrors may escape; anything else fails the property. */
async function onlySealErrors(f: () => unknown): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof SealError)) throw new Error(`not a SealError: ${String(e)}\n${(e as Error)?.stack ?? ''}`);
  }
}

/** Mutations of a valid input: flips, overwrites, insertions, deletions, cuts, splices. */
const mutated = (base: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc
    .array(
      fc.oneof(
        fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
        fc.record({ op: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
        fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
        fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
        fc.record({ op: fc.constant('u32' as const), at: fc.nat(), v: fc.constantFrom(0, 1, 0xff, 0xffff, 0x10000, 0xffffffff) }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((ops) => {
      let b = base.slice();
      for (const o of ops) {
        const at = b.length ? o.at % b.length : 0;
        if (o.op === 'flip' && b.length) b[at]! ^= 1 << o.bit;
        else if (o.op === 'set' && b.length) b[at] = o.v;
        else if (o.op === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...o.bytes, ...b.subarray(at)]);
        else if (o.op === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + o.n)]);
        else if (o.op === 'cut') b = b.slice(0, at);
        else if (o.op === 'u32' && at + 4 <= b.length) new DataView(b.buffer).setUint32(at, o.v);
      }
      return b;
    });

const bytesOrMutated = (base: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) }, { weight: 4, arbitrary: mutated(base) });

const params = (numRuns: number) => ({ numRuns, seed: 20260115, endOnFailure: true });

describe('fuzz', () => {
  it('decodeHeader', async () => {
    await fc.assert(fc.asyncProperty(bytesOrMutated(header), (b) => onlySealErrors(() => decodeHeader(b))), params(5000));
  });

  it('readHeader over a chunked source', async () => {
    await fc.assert(
      fc.asyncProperty(bytesOrMutated(small), fc.integer({ min: 1, max: 64 }), (b, step) =>
        onlySealErrors(() => readHeader(new SourceReader(chunksOf(b, step)))),
      ),
      params(3000),
    );
  });

  it('decodeCert and verifyCert', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytesOrMutated(w.A.certBytes), bytesOrMutated(Buffer.from(w.D1.buildCert, 'base64'))), async (b) => {
        await onlySealErrors(() => decodeCert(b));
        await onlySealErrors(() => verifyCert(b, ip));
      }),
      params(3000),
    );
  });

  it('parseCode', async () => {
    const code = w.A.data.codes[0]!.code;
    const typed = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefoilu-_. SC'.split('')), maxLength: 40 }),
      fc.tuple(fc.nat(), fc.string({ maxLength: 3 })).map(([i, s]) => code.slice(0, i % code.length) + s + code.slice((i % code.length) + 1)),
    );
    await fc.assert(fc.asyncProperty(typed, (s) => onlySealErrors(() => parseCode(s))), params(5000));
  });

  it('openSealed (content drained) and verifySealed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytesOrMutated(small), mutated(signOnly)), fc.integer({ min: 1, max: 4096 }), async (b, step) => {
        await onlySealErrors(async () => {
          const o = await openSealed(chunksOf(b, step), { receiver: D1, issuerPub: ip, primitives: nodePrimitives });
          await collect(o.content);
        });
        await onlySealErrors(() => verifySealed(chunksOf(b, step), { issuerPub: ip, primitives: nodePrimitives }));
      }),
      params(1500),
    );
  });

  it('openSealed through a pull source with recycled buffers', async () => {
    const pull = (b: Uint8Array, step: number) => {
      let off = 0;
      return {
        async read(into: Uint8Array) {
          const n = Math.min(into.length, step, b.length - off);
          into.set(b.subarray(off, off + n));
          off += n;
          return n;
        },
      };
    };
    await fc.assert(
      fc.asyncProperty(bytesOrMutated(small), fc.integer({ min: 1, max: 4096 }), async (b, step) => {
        await onlySealErrors(async () => {
          const o = await openSealed(pull(b, step), { receiver: D1, issuerPub: ip, primitives: nodePrimitives, reuseBuffers: true });
          for await (const c of o.content) expect(c.length).toBeGreaterThanOrEqual(0);
        });
      }),
      params(1000),
    );
  });
});
