// Bad containers at the library level: every changed byte, every truncation, reordered
// chunks, a container for someone else, an expired build. Each must end in a typed
// error, and the content iterator must throw before it completes, so no caller can
// mistake a damaged file for a whole one.
import { describe, expect, it } from 'vitest';
import { decodeHeader, isSealError, type SealErrorCode } from '../../card/index.js';
import { makeWorld, partyOfBuild, partyOfCard, sealBytes, openBytes, verifyBytes } from '../support/world.js';

const w = makeWorld();
const ip = w.issuer.publicKey;
const A = partyOfCard(w.A);
const D1 = partyOfBuild(w.D1);
const CHUNK = 1 << 16;
const TAG = 16;
// Three chunks with chunkLog2 16: two full ones and a short last one.
const data = new Uint8Array(2 * CHUNK + 9_000).map((_, i) => (i * 131 + 7) & 255);
const sealed = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data, { addressees: [Buffer.from(w.D1.buildCert, 'base64')] });
const headerLen = decodeHeader(sealed.subarray(0, 13 + new DataView(sealed.buffer, sealed.byteOffset + 9, 4).getUint32(0) + 32)).bytes.length;
const payloadEnd = sealed.length - 64;
const chunkStarts = [headerLen, headerLen + CHUNK + TAG, headerLen + 2 * (CHUNK + TAG)];

/** The error code of a full open (content drained) or null if it opened whole. */
async function openOutcome(bytes: Uint8Array): Promise<{ code: SealErrorCode | 'OTHER' | null; completed: boolean }> {
  try {
    await openBytes(D1, bytes, ip);
    return { code: null, completed: true };
  } catch (e) {
    return { code: isSealError(e) ? e.code : 'OTHER', completed: false };
  }
}

async function verifyOutcome(bytes: Uint8Array): Promise<SealErrorCode | 'OTHER' | null> {
  try {
    const r = await verifyBytes(bytes, ip);
    return r.verdict.certified ? null : 'REFUSED';
  } catch (e) {
    return isSealError(e) ? e.code : 'OTHER';
  }
}

const damaged = new Set<SealErrorCode | 'OTHER' | null>(['TAMPERED', 'MALFORMED']);

describe('a sealed container with one byte changed', () => {
  it('opens whole when unchanged (the baseline the flips are measured against)', async () => {
    const { data: out, opened } = await openBytes(D1, sealed, ip);
    expect(Buffer.compare(out, data)).toBe(0);
    expect(opened.verdict.certified).toBe(true);
    expect(chunkStarts[2]! < payloadEnd).toBe(true);
  });

  const positions: number[] = [];
  for (let i = 0; i < headerLen; i++) positions.push(i); // every header byte
  for (let i = payloadEnd; i < sealed.length; i++) positions.push(i); // every trailer byte
  for (const s of chunkStarts) positions.push(s, s + 1, s + 12); // the start of each chunk
  for (let i = headerLen; i < payloadEnd; i += 997) positions.push(i); // a stride through the payload
  for (let c = 0; c < chunkStarts.length; c++) {
    const end = c + 1 < chunkStarts.length ? chunkStarts[c + 1]! : payloadEnd;
    for (let i = end - TAG; i < end; i += 5) positions.push(i); // each chunk's tag
  }

  it(`is TAMPERED or MALFORMED for the receiver at all ${positions.length} positions, never completing`, async () => {
    const bad: string[] = [];
    for (const pos of positions) {
      const copy = sealed.slice();
      copy[pos]! ^= 1 << (pos % 8);
      const r = await openOutcome(copy);
      if (r.completed || !damaged.has(r.code)) bad.push(`${pos}:${r.code}`);
    }
    expect(bad).toEqual([]);
  });

  it('is TAMPERED or MALFORMED for the keyless verifier at every header and trailer position', async () => {
    const bad: string[] = [];
    for (const pos of positions.filter((p) => p < headerLen || p >= payloadEnd || (p - headerLen) % 997 === 0)) {
      const copy = sealed.slice();
      copy[pos]! ^= 0x80;
      const code = await verifyOutcome(copy);
      if (!damaged.has(code)) bad.push(`${pos}:${code}`);
    }
    expect(bad).toEqual([]);
  });

  it('releases no chunk at or after the changed one', async () => {
    // A flip in chunk 1: chunk 0 authenticates and may be yielded provisionally, but the
    // iterator must stop with TAMPERED before yielding anything of chunk 1.
    const copy = sealed.slice();
    copy[chunkStarts[1]! + 100]! ^= 1;
    const { openSealed } = await import('../../card/index.js');
    const { nodePrimitives } = await import('../../card/node.js');
    const { chunksOf } = await import('../support/world.js');
    const o = await openSealed(chunksOf(copy), { receiver: D1, issuerPub: ip, primitives: nodePrimitives });
    let released = 0;
    const err = await (async () => {
      for await (const c of o.content) released += c.length;
    })().then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'TAMPERED')).toBe(true);
    expect(released).toBeLessThanOrEqual(CHUNK);
  });
});

describe('a truncated or extended container', () => {
  const cuts = new Set<number>([0, 1, 8, 12, 13, headerLen - 1, headerLen, sealed.length - 1, sealed.length - 63, sealed.length - 64, sealed.length - 65]);
  for (const s of chunkStarts) for (const d of [0, 1, TAG, 1000, CHUNK]) if (s + d < sealed.length) cuts.add(s + d);
  for (const s of chunkStarts) cuts.add(s + 64); // a boundary shifted by a signature's length

  it(`fails at every chunk boundary and inside chunks (${cuts.size} cuts)`, async () => {
    const bad: string[] = [];
    for (const n of cuts) {
      const r = await openOutcome(sealed.subarray(0, n));
      if (r.completed || !damaged.has(r.code)) bad.push(`${n}:${r.code}`);
      const v = await verifyOutcome(sealed.subarray(0, n));
      if (!damaged.has(v)) bad.push(`verify ${n}:${v}`);
    }
    expect(bad).toEqual([]);
  });

  it('fails with bytes appended', async () => {
    for (const extra of [1, 64, CHUNK + TAG]) {
      const longer = new Uint8Array(sealed.length + extra);
      longer.set(sealed);
      const r = await openOutcome(longer);
      expect(r.completed).toBe(false);
      expect(damaged.has(r.code)).toBe(true);
    }
  });
});

describe('reordered chunks', () => {
  const swap = (a: number, b: number, len: number): Uint8Array => {
    const c = sealed.slice();
    c.set(sealed.subarray(a, a + len), b);
    c.set(sealed.subarray(b, b + len), a);
    return c;
  };

  it('two full chunks swapped: TAMPERED', async () => {
    const r = await openOutcome(swap(chunkStarts[0]!, chunkStarts[1]!, CHUNK + TAG));
    expect(r).toEqual({ code: 'TAMPERED', completed: false });
    expect(await verifyOutcome(swap(chunkStarts[0]!, chunkStarts[1]!, CHUNK + TAG))).toBe('TAMPERED');
  });

  it('a middle chunk dropped: TAMPERED', async () => {
    const c = new Uint8Array(sealed.length - (CHUNK + TAG));
    c.set(sealed.subarray(0, chunkStarts[1]!));
    c.set(sealed.subarray(chunkStarts[2]!), chunkStarts[1]!);
    expect(await openOutcome(c)).toEqual({ code: 'TAMPERED', completed: false });
  });

  it('a chunk duplicated: TAMPERED', async () => {
    const c = new Uint8Array(sealed.length + CHUNK + TAG);
    c.set(sealed.subarray(0, chunkStarts[1]!));
    c.set(sealed.subarray(chunkStarts[0]!, chunkStarts[1]!), chunkStarts[1]!);
    c.set(sealed.subarray(chunkStarts[1]!), chunkStarts[2]!);
    expect(await openOutcome(c)).toEqual({ code: 'TAMPERED', completed: false });
  });
});

describe('containers that are authentic but not ours or no longer valid', () => {
  it('sealed for another code of the same card: NOT_FOR_US', async () => {
    const other = w.A.data.codes[1]!.serial;
    const s = await sealBytes(A, [{ kind: 'code', label: other }], data.subarray(0, 1000));
    expect(await openOutcome(s)).toEqual({ code: 'NOT_FOR_US', completed: false });
  });

  it('opened by an expired build: EXPIRED', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data.subarray(0, 1000));
    const err = await openBytes(D1, s, ip, { now: w.now + 366 * 86_400_000 }).then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'EXPIRED')).toBe(true);
  });

  it('sealed by a build that has expired when it is opened: EXPIRED', async () => {
    const short = w.build(w.A, w.g1, w.serialA, { validDays: 1 });
    const s = await sealBytes(partyOfBuild(short), [{ kind: 'code', label: w.serialA }], data.subarray(0, 1000));
    const err = await openBytes(A, s, ip, { now: w.now + 2 * 86_400_000 }).then(() => null, (e: unknown) => e);
    expect(isSealError(err, 'EXPIRED')).toBe(true);
  });
});
