// openSealed and verifySealed (docs/FORMAT.md §7, §9, §14) on containers built by hand:
// sign-only payloads are plaintext under the sender's signature, so every framing and
// metadata rule can be broken alone while the signature still holds. Each case names
// the check that must catch it.
import { describe, expect, it } from 'vitest';
import {
  SIGN_ONLY_FILE_KEY,
  Writer,
  buildRecipient,
  concat,
  encodeHeader,
  fromBase64,
  openSealed,
  sha256,
  sign,
  signedDigest,
  verifySealed,
  type Party,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { outcomeOf } from '../support/outcome.js';
import { buildCertOf, chunksOf, collect, makeWorld, openBytes, partyOfBuild, partyOfCard, sealBytes, verifyBytes } from '../support/world.js';

const w = makeWorld();
const ip = w.issuer.publicKey;
const A = partyOfCard(w.A);
const B = partyOfCard(w.B);
const C = partyOfCard(w.C);
const D1 = partyOfBuild(w.D1);
const S = 1 << 16;

/** meta (FORMAT.md §7) with any size and optional trailing bytes inside the block. */
function meta(name: string, size: number, extra = new Uint8Array(0), type = 'text/plain'): Uint8Array {
  const body = new Writer().str(name).str(type).u64(size).raw(extra).done();
  return new Writer().u16(body.length).raw(body).done();
}

/** A sign-only container around any plaintext payload, signed by card A. */
function signOnly(payload: Uint8Array, opts: { origin?: 'card' | 'dedicated'; created?: number } = {}): Uint8Array {
  const h = encodeHeader(
    {
      signOnly: true,
      created: opts.created ?? w.now,
      chunkLog2: 16,
      payloadSalt: new Uint8Array(16),
      stanzas: [],
      origin: opts.origin ?? 'card',
      originCert: w.A.certBytes,
      addressees: [],
    },
    SIGN_ONLY_FILE_KEY,
  );
  const sig = sign(fromBase64(w.A.data.signSecret), signedDigest(sha256(h.bytes), sha256(payload)));
  return concat(h.bytes, payload, sig);
}

async function openAll(receiver: Party, bytes: Uint8Array, step = 4096): Promise<{ name: string; data: Uint8Array; certified: boolean }> {
  const o = await openSealed(chunksOf(bytes, step), { receiver, issuerPub: ip, primitives: nodePrimitives, now: w.now });
  return { name: o.meta.name, data: await collect(o.content), certified: o.verdict.certified };
}
/** A pull source (like a file handle) handing out at most `step` bytes a read. */
function pullOf(bytes: Uint8Array, step: number) {
  let off = 0;
  return {
    async read(into: Uint8Array) {
      const n = Math.min(into.length, step, bytes.length - off);
      into.set(bytes.subarray(off, off + n));
      off += n;
      return n;
    },
  };
}
const content = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + 3) & 255);

describe('sign-only payload framing and metadata', () => {
  it('a hand-built sign-only container opens for anyone, with its name and content', async () => {
    const c = content(100);
    const r = await openAll(C, signOnly(concat(meta('a.txt', 100), c)));
    expect(r).toEqual({ name: 'a.txt', data: c, certified: true });
    expect((await verifySealed(chunksOf(signOnly(concat(meta('a.txt', 100), c))), { issuerPub: ip, now: w.now })).verdict.certified).toBe(true);
  });

  it('chunks of exactly S bytes; a payload of S + 1 bytes is two chunks', async () => {
    for (const total of [S, S + 1, 2 * S + 7]) {
      const m = meta('b.bin', 0);
      const c = content(total - m.length);
      const bytes = signOnly(concat(meta('b.bin', c.length), c));
      for (const step of [S - 3])
        expect((await openAll(A, bytes, step)).data, `${total} bytes in reads of ${step}`).toEqual(c);
    }
  });

  it('no payload byte at all: TAMPERED (the last chunk holds at least one byte)', async () => {
    expect(await outcomeOf(openAll(A, signOnly(new Uint8Array(0))))).toBe('TAMPERED: truncated payload');
    expect(await outcomeOf(verifySealed(chunksOf(signOnly(new Uint8Array(0))), { issuerPub: ip }))).toBe('TAMPERED: truncated payload');
  });

  it('a payload that ends inside the metadata block: MALFORMED', async () => {
    expect(await outcomeOf(openAll(A, signOnly(new Uint8Array([0]))))).toBe('MALFORMED: payload ends inside the metadata block');
    const m = meta('c.txt', 0);
    expect(await outcomeOf(openAll(A, signOnly(m.subarray(0, m.length - 1))))).toBe('MALFORMED: payload ends inside the metadata block');
    expect(await outcomeOf(openAll(A, signOnly(m)))).toBe('ok');
  });

  it('metadata up to 4096 bytes; 4097 is MALFORMED before anything else is read', async () => {
    const fit = meta('n'.repeat(4096 - 2 - 2 - 10 - 8), 0);
    expect(fit.length).toBe(4098);
    expect((await openAll(A, signOnly(fit))).name).toHaveLength(4074);
    const over = meta('n'.repeat(4075), 0);
    expect(await outcomeOf(openAll(A, signOnly(over)))).toBe('MALFORMED: metadata block too large');
  });

  it('metadata spread over chunks of a larger chunk size is read whole', async () => {
    // With 2^16-byte chunks the metadata always starts in chunk 0; reads of 1 byte
    // still hand it over in pieces to the reader.
    const c = content(10);
    expect((await openAll(A, signOnly(concat(meta('d.txt', 10), c)), 1)).data).toEqual(c);
  });

  it('extra bytes after size inside the metadata block: MALFORMED', async () => {
    expect(await outcomeOf(openAll(A, signOnly(meta('e.txt', 0, new Uint8Array([0])))))).toMatch(/^MALFORMED: /);
  });

  it('content longer or shorter than size: MALFORMED, in the first chunk or a later one', async () => {
    expect(await outcomeOf(openAll(A, signOnly(concat(meta('f', 5), content(6)))))).toBe('MALFORMED: payload is longer than its stated size');
    expect(await outcomeOf(openAll(A, signOnly(concat(meta('f', 5), content(4)))))).toBe('MALFORMED: payload is shorter than its stated size');
    const big = content(S + 100);
    expect(await outcomeOf(openAll(A, signOnly(concat(meta('f', S), big))))).toBe('MALFORMED: payload is longer than its stated size');
    expect(await outcomeOf(openAll(A, signOnly(concat(meta('f', S + 200), big))))).toBe('MALFORMED: payload is shorter than its stated size');
    expect(await outcomeOf(openAll(A, signOnly(concat(meta('f', S + 100), big))))).toBe('ok');
  });

  it('an unsafe name: MALFORMED', async () => {
    for (const name of ['', '..', '.', 'a/b', 'a\\b', 'a\0b'])
      expect(await outcomeOf(openAll(A, signOnly(meta(name, 0)))), JSON.stringify(name)).toBe('MALFORMED: unsafe file name in payload');
  });

  it('a changed payload byte or signature: TAMPERED for the receiver and the verifier', async () => {
    const good = signOnly(concat(meta('g', 3), content(3)));
    for (const at of [good.length - 70, good.length - 1]) {
      const bad = good.slice();
      bad[at]! ^= 1;
      expect(await outcomeOf(openAll(A, bad))).toBe("TAMPERED: the sender's signature does not verify");
      expect(await outcomeOf(verifySealed(chunksOf(bad), { issuerPub: ip }))).toBe("TAMPERED: the sender's signature does not verify");
    }
  });

  it('a refusal is reported only once the signature holds', async () => {
    const refusedButSigned = signOnly(concat(meta('h', 1), content(1)), { created: w.now + 3600_000 });
    expect(await outcomeOf(openAll(A, refusedButSigned))).toBe(`REFUSED: not certified: created in the future (sealed by card ${w.A.cert.cardId} of Alice <alice@example.test>)`);
    const broken = refusedButSigned.slice();
    broken[broken.length - 1]! ^= 1;
    expect(await outcomeOf(openAll(A, broken))).toBe("TAMPERED: the sender's signature does not verify");
    const v = await verifySealed(chunksOf(refusedButSigned), { issuerPub: ip, now: w.now });
    expect(v.verdict).toMatchObject({ certified: false, code: 'REFUSED', reason: 'created in the future' });
  });
});

describe('the source', () => {
  /** An iterable source that records whether the reader let it go. */
  function tracked(bytes: Uint8Array) {
    const state = { closed: false };
    async function* src() {
      try {
        yield* chunksOf(bytes, 1000);
      } finally {
        state.closed = true;
      }
    }
    return Object.assign(state, { src: src() });
  }

  it('is released when opening fails, and when the content has been read, not before', async () => {
    const good = signOnly(concat(meta('s', 3 * S), content(3 * S)));
    const bad = good.slice();
    bad[0] = 0; // a bad magic, found while most of the source is still unread
    const t1 = tracked(bad);
    expect(await outcomeOf(openSealed(t1.src, { receiver: A, issuerPub: ip }))).toMatch(/^MALFORMED/);
    expect(t1.closed).toBe(true);
    const t2 = tracked(good);
    const o = await openSealed(t2.src, { receiver: A, issuerPub: ip, now: w.now });
    expect(t2.closed).toBe(false);
    expect(await collect(o.content)).toEqual(content(3 * S));
    expect(t2.closed).toBe(true);
  });

  it('is released when the consumer stops early, and when keyless verification fails', async () => {
    const t = tracked(signOnly(concat(meta('s', 3 * S), content(3 * S))));
    const o = await openSealed(t.src, { receiver: A, issuerPub: ip, now: w.now });
    for await (const c of o.content) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    expect(t.closed).toBe(true);
    const bad = signOnly(concat(meta('s', 3 * S), content(3 * S)));
    bad[0] = 0;
    const t2 = tracked(bad);
    expect(await outcomeOf(verifySealed(t2.src, { issuerPub: ip }))).toBe('MALFORMED: not a sealcode container (bad magic)');
    expect(t2.closed).toBe(true);
  });

  it('a cut prefix or header is "truncated header"', async () => {
    const good = signOnly(concat(meta('s', 1), content(1)));
    expect(await outcomeOf(openAll(A, good.subarray(0, 10)))).toBe('MALFORMED: truncated header');
    expect(await outcomeOf(openAll(A, good.subarray(0, 40)))).toBe('MALFORMED: truncated header');
    expect(await outcomeOf(verifySealed(chunksOf(good.subarray(0, 40)), { issuerPub: ip }))).toBe('MALFORMED: truncated header');
  });

  it('frames chunks right when the source hands over one byte at a time', async () => {
    const c = content(S + 100);
    expect((await openAll(A, signOnly(concat(meta('one', c.length), c)), 1)).data).toEqual(c);
  });

  it('without reuseBuffers every content chunk stays as it was handed over', async () => {
    // Not periodic: chunks i and i + 3 must differ for a reused buffer to show.
    const data = new Uint8Array(5 * S).map((_, i) => (Math.imul(i, 2654435761) >>> 13) & 255);
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data);
    const o = await openSealed(chunksOf(s), { receiver: D1, issuerPub: ip, primitives: nodePrimitives });
    const kept: Uint8Array[] = [];
    for await (const c of o.content) kept.push(c); // no copy
    expect(Buffer.compare(concat(...kept), data)).toBe(0);
  });

  it('sign-only content from a pull source stays intact while the reader reuses its buffer', async () => {
    // Over 4 MiB: the pull reader's buffer wraps, so chunks that were views of it
    // would change under a consumer that keeps them (without reuseBuffers it may).
    const big = content(6 << 20);
    const bytes = signOnly(concat(meta('big', big.length), big));
    const src = pullOf(bytes, 100_000);
    const o = await openSealed(src, { receiver: A, issuerPub: ip, now: w.now });
    const kept: Uint8Array[] = [];
    for await (const c of o.content) kept.push(c); // no copy
    expect(Buffer.compare(concat(...kept), big)).toBe(0);
  });
});

describe('encrypted containers', () => {
  const data = content(3 * S);

  it('a payload that is a multiple of S ends with a full chunk, and opens', async () => {
    // meta + content = exactly 3·S bytes of plaintext.
    const exact = content(3 * S - meta('file.bin', 0, undefined, 'application/octet-stream').length);
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], exact);
    expect(s.length).toBe(decodeLen(s) + 3 * (S + 16) + 64);
    expect((await openBytes(D1, s, ip)).data).toEqual(exact);
  });

  it('a last chunk of only a tag (16 bytes): TAMPERED for the receiver and the verifier', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data);
    const h = decodeLen(s);
    // Keep chunk 0 and 16 bytes of chunk 1, then the signature.
    const cut = concat(s.subarray(0, h + S + 16 + 16), s.subarray(s.length - 64));
    expect(await outcomeOf(openBytes(D1, cut, ip))).toBe('TAMPERED: truncated payload');
    expect(await outcomeOf(verifyBytes(cut, ip))).toBe('TAMPERED: truncated payload');
    const one = concat(s.subarray(0, h + S + 16 + 17), s.subarray(s.length - 64));
    expect(await outcomeOf(openBytes(D1, one, ip))).toMatch(/^TAMPERED: payload chunk 1 does not authenticate/);
  });

  it('opens with recycled buffers from a pull source, chunk by chunk', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data);
    const src = pullOf(s, 5000);
    const o = await openSealed(src, { receiver: D1, issuerPub: ip, primitives: nodePrimitives, reuseBuffers: true, sizeHint: s.length });
    expect(await collect(o.content)).toEqual(data);
  });

  it('a changed header byte is caught by the header MAC before any content is handed out', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], content(10));
    const bad = s.slice();
    bad[13 + 2 + 7]! ^= 1; // the last byte of `created`: still inside the clock skew
    expect(await outcomeOf(openSealed(chunksOf(bad), { receiver: D1, issuerPub: ip, primitives: nodePrimitives }))).toBe('TAMPERED: header MAC does not verify');
  });

  it('the keyless verifier judges at the time it is given', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], content(10));
    const later = w.A.cert.notAfter + 1;
    const v = await verifySealed(chunksOf(s), { issuerPub: ip, primitives: nodePrimitives, now: later });
    expect(v.verdict).toMatchObject({ certified: false, code: 'EXPIRED' });
  });

  it('not for us only when authentic: a changed stanza is TAMPERED, a foreign one NOT_FOR_US', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], content(10));
    expect(await outcomeOf(openBytes(C, s, ip))).toBe('NOT_FOR_US: this container was not sealed for this card or build');
    const bad = s.slice();
    // The last byte of the stanza's wrapped key (13 prefix + 28 fixed + 1 kind + 2+10 label + 16 salt + 48).
    bad[13 + 28 + 1 + 12 + 16 + 47]! ^= 1;
    expect(await outcomeOf(openBytes(D1, bad, ip))).toBe("TAMPERED: the sender's signature does not verify");
    const badSig = s.slice();
    badSig[badSig.length - 1]! ^= 1;
    expect(await outcomeOf(openBytes(C, badSig, ip))).toBe("TAMPERED: the sender's signature does not verify");
  });

  it('the receiver is judged with its own certificate: D1 → card of another group is REFUSED after the signature', async () => {
    const s = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], content(10), { addressees: [w.A.certBytes] });
    // C cannot open it (not its key); B can (same group) and is certified; a build of another group's card cannot.
    expect((await openBytes(B, s, ip)).opened.verdict.certified).toBe(true);
    const v = await verifyBytes(s, ip);
    expect(v.addressees).toEqual([w.A.cert]);
    expect(v.verdict.certified).toBe(true);
  });
});

function decodeLen(s: Uint8Array): number {
  return 13 + new DataView(s.buffer, s.byteOffset + 9, 4).getUint32(0) + 32;
}
