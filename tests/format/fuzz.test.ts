// Fuzzing every parser that takes outside bytes: random and mutated inputs end in a
// SealError, never another exception and never a hang.
// `npm test` runs a fixed seed and a few thousand cases per parser; `npm run test:fuzz`
// (SEALCODE_FUZZ=long) runs over 100,000 in all from a fresh seed, printed with the
// count so a failure can be replayed with SEALCODE_FUZZ_SEED.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SealError,
  SourceReader,
  decodeCert,
  decodeHeader,
  openCardFile,
  openSealed,
  sealCardFile,
  unwrapFileKey,
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

const LONG = process.env.SEALCODE_FUZZ === 'long';
const SEED = Number(process.env.SEALCODE_FUZZ_SEED ?? (LONG ? Date.now() % 2 ** 31 : 20260115));
const counts: Record<string, number> = {};
/** Runs of one property: `short` in npm test, `long` under test:fuzz; counted for the summary. */
function params(name: string, short: number, long: number) {
  const numRuns = LONG ? long : short;
  counts[name] = (counts[name] ?? 0) + numRuns;
  return { numRuns, seed: SEED, endOnFailure: true };
}
const TIMEOUT = LONG ? 1_800_000 : 120_000;
afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const parsers = ['decodeHeader', 'readHeader', 'stanzas', 'certificates', 'card file'].reduce((a, k) => a + (counts[k] ?? 0), 0);
  console.log(
    `fuzz (${LONG ? 'long' : 'fixed'} run, seed ${SEED}): ${total} cases in all, ${parsers} on the header, stanza, certificate and card-file parsers\n` +
      Object.entries(counts).map(([k, v]) => `  ${k}: ${v}`).join('\n'),
  );
});

describe('fuzz', () => {
  it('decodeHeader', async () => {
    await fc.assert(fc.asyncProperty(bytesOrMutated(header), (b) => onlySealErrors(() => decodeHeader(b))), params('decodeHeader', 5000, 40_000));
  }, TIMEOUT);

  it('stanzas: mutated stanza bytes in a header, and unwrapping any stanza', async () => {
    // The stanza region starts after prefix(13) + suite, flags, created, chunkLog2, salt (27)
    // and the count (1); mutations are aimed there, counts and kinds included.
    const STANZAS = 13 + 27;
    const inStanzas = fc
      .array(fc.record({ at: fc.nat(90), v: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 })
      .map((ops) => {
        const b = header.slice();
        for (const o of ops) b[STANZAS + o.at] = o.v;
        return b;
      });
    await fc.assert(fc.asyncProperty(inStanzas, (b) => onlySealErrors(() => decodeHeader(b))), params('stanzas', 2000, 15_000));
    const key = new Uint8Array(32).fill(1);
    const stanza = fc.record({
      kind: fc.constantFrom('code' as const, 'id' as const, 'group' as const, 'pair' as const),
      label: fc.string({ maxLength: 40 }),
      salt: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      wrapped: fc.uint8Array({ minLength: 0, maxLength: 64 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(stanza, { maxLength: 4 }), async (st) => {
        for (const s of st) expect(unwrapFileKey(key, s)).toBeNull();
        await onlySealErrors(async () => expect(await D1.unwrap(st)).toBeNull());
        await onlySealErrors(async () => expect(await A.unwrap(st)).toBeNull());
      }),
      params('stanzas', 1000, 10_000),
    );
  }, TIMEOUT);

  it('readHeader over a chunked source', async () => {
    await fc.assert(
      fc.asyncProperty(bytesOrMutated(small), fc.integer({ min: 1, max: 64 }), (b, step) =>
        onlySealErrors(() => readHeader(new SourceReader(chunksOf(b, step)))),
      ),
      params('readHeader', 3000, 5000),
    );
  }, TIMEOUT);

  it('decodeCert and verifyCert', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytesOrMutated(w.A.certBytes), bytesOrMutated(Buffer.from(w.D1.buildCert, 'base64'))), async (b) => {
        await onlySealErrors(() => decodeCert(b));
        await onlySealErrors(() => verifyCert(b, ip));
      }),
      params('certificates', 3000, 30_000),
    );
  }, TIMEOUT);

  it('openCardFile: mutated envelopes, and authentic files whose contents are anything', async () => {
    const sealed = await sealCardFile(w.A.data, 'pass', 1024);
    const env = JSON.parse(sealed) as Record<string, unknown>;
    const text = fc.oneof(
      { weight: 3, arbitrary: mutated(new TextEncoder().encode(sealed)).map((b) => new TextDecoder().decode(b)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      // Well-formed JSON with one field replaced by any JSON value.
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom('sealcode', 'v', 'kdf', 'nonce', 'ct', 'kdf.N', 'kdf.r', 'kdf.p', 'kdf.salt', 'kdf.name'), fc.jsonValue())
          .map(([k, v]) => {
            const e = structuredClone(env) as Record<string, Record<string, unknown>>;
            if (k.startsWith('kdf.')) e.kdf![k.slice(4)] = v;
            else (e as Record<string, unknown>)[k] = v;
            return JSON.stringify(e);
          }),
      },
    );
    await fc.assert(fc.asyncProperty(text, (t) => onlySealErrors(() => openCardFile(t, 'pass'))), params('card file', 2000, 15_000));
    // The passphrase is right, so these reach the contents parser.
    const contents = fc.oneof(fc.jsonValue(), fc.record({ v: fc.jsonValue(), cardId: fc.jsonValue() }));
    await fc.assert(
      fc.asyncProperty(contents, async (c) => {
        const f = await sealCardFile(c as never, 'pass', 1024);
        await onlySealErrors(() => openCardFile(f, 'pass'));
      }),
      params('card file', 50, 1000),
    );
  }, TIMEOUT);

  it('parseCode', async () => {
    const code = w.A.data.codes[0]!.code;
    const typed = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefoilu-_. SC'.split('')), maxLength: 40 }),
      fc.tuple(fc.nat(), fc.string({ maxLength: 3 })).map(([i, s]) => code.slice(0, i % code.length) + s + code.slice((i % code.length) + 1)),
    );
    await fc.assert(fc.asyncProperty(typed, (s) => onlySealErrors(() => parseCode(s))), params('parseCode', 5000, 10_000));
  }, TIMEOUT);

  it('openSealed (content drained) and verifySealed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytesOrMutated(small), mutated(signOnly)), fc.integer({ min: 1, max: 4096 }), async (b, step) => {
        await onlySealErrors(async () => {
          const o = await openSealed(chunksOf(b, step), { receiver: D1, issuerPub: ip, primitives: nodePrimitives });
          await collect(o.content);
        });
        await onlySealErrors(() => verifySealed(chunksOf(b, step), { issuerPub: ip, primitives: nodePrimitives }));
      }),
      params('openSealed and verifySealed', 1500, 3000),
    );
  }, TIMEOUT);

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
      params('openSealed, pull source', 1000, 2000),
    );
  }, TIMEOUT);
});
