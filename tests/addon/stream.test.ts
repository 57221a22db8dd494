// The add-on's streamed byte path in Node (issue 10 item 6): files read in slices, the
// container and the plaintext written into a Blob as they are produced, and nothing
// handed out when the last chunk or the signature fails. Memory inside Thunderbird is
// measured in thunderbird-large.test.ts and bench/addon.ts.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildParty, openSealed, profileSecrets, SealError } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { SLICE, blobSource, streamToBlob } from '../../thunderbird-addon/lib/bytes.js';
import { release } from '../../thunderbird-addon/lib/release.js';
import { judge } from '../../thunderbird-addon/lib/display-logic.js';
import { addonPrimitives, heldSubtleHash } from '../../thunderbird-addon/lib/primitives.js';
import { dedicatedPlan } from '../../thunderbird-addon/lib/plan.js';
import { sealFile, type SealPlan } from '../../thunderbird-addon/lib/seal-files.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { SEALED_TYPE } from '../../thunderbird-addon/manifest.js';
import { aliceParty, makeAddonWorld, sealWith, type AddonWorld } from './support/addon-world.js';

let w: AddonWorld;
beforeAll(async () => {
  w = await makeAddonWorld(fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-stream-')));
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const bytesOf = async (b: Blob): Promise<Uint8Array> => new Uint8Array(await b.arrayBuffer());
// Several payload chunks and a short last one: the boundaries the streamed path must get right.
const data = patternBytes(3 * SLICE + 12_345, 21);

describe('reading a Blob into one buffer (blobSource)', () => {
  it('fills the caller buffer with every byte once, in order, and reads 0 at the end and for an empty Blob', async () => {
    const src = blobSource(new Blob([data as BlobPart]));
    const into = new Uint8Array(3 * SLICE); // larger than one read: reads stop at the scratch size
    const parts: Uint8Array[] = [];
    for (let n; (n = await src.read(into)) > 0; ) {
      expect(n).toBeLessThanOrEqual(SLICE);
      parts.push(into.slice(0, n));
    }
    expect(sha(Buffer.concat(parts))).toBe(sha(data));
    expect(await src.read(into)).toBe(0);
    expect(await blobSource(new Blob([])).read(into)).toBe(0);
  });

  it('a failing read surfaces as an error of the reader, not as a short file', async () => {
    // Only stream() is used: a stand-in whose byte stream fails on its first pull.
    const failing = { stream: () => new ReadableStream({ type: 'bytes', pull: (c) => c.error(new Error('the file went away')) }) } as unknown as Blob;
    await expect(blobSource(failing).read(new Uint8Array(16))).rejects.toThrow('the file went away');
  });

  it('seal and open read through it: the caller buffer stays usable between reads (BYOB detaches only our scratch)', async () => {
    const src = blobSource(new Blob([data.subarray(0, 10) as BlobPart]), 4);
    const into = new Uint8Array(8);
    const got: number[] = [];
    for (let n; (n = await src.read(into.subarray(2))) > 0; ) got.push(...into.subarray(2, 2 + n));
    expect(into.byteLength).toBe(8);
    expect(got).toEqual([...data.subarray(0, 10)]);
  });
});

describe('freeing chunks once written (release.ts)', () => {
  it("frees nothing where the Response keeps the chunks (Node's): owned chunks still come out whole, even where buffers can be freed", async () => {
    // Node 20 has no ArrayBuffer.prototype.transfer; with one (as in Gecko, or a later Node),
    // freeing would cut the chunks Node's Response still holds, unless the check says no.
    const proto = ArrayBuffer.prototype as { transfer?: (n: number) => ArrayBuffer };
    const had = proto.transfer;
    proto.transfer ??= function (this: ArrayBuffer, n: number) {
      return structuredClone(this, { transfer: [this] }).slice(0, n);
    };
    try {
      vi.resetModules();
      const fresh = { bytes: await import('../../thunderbird-addon/lib/bytes.js'), release: await import('../../thunderbird-addon/lib/release.js') };
      expect(await fresh.release.responseCopiesChunks()).toBe(false);
      async function* owned(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 5; i++) yield fresh.release.owns(new Uint8Array(1000).fill(i + 1));
      }
      const b = await bytesOf(await fresh.bytes.streamToBlob(owned(), 'application/octet-stream'));
      expect(b.length).toBe(5000);
      for (let i = 0; i < 5; i++) expect(b[i * 1000 + 999]).toBe(i + 1);
      // The stand-in frees for real: an owned buffer given to release() is gone.
      const gone = fresh.release.owns(new Uint8Array(8));
      expect(fresh.release.release(gone)).toBe(true);
      expect(gone.byteLength).toBe(0);
    } finally {
      if (!had) delete proto.transfer;
    }
  });

  it('never frees a buffer it was not given as owned', () => {
    const mine = new Uint8Array(16);
    expect(release(mine)).toBe(false);
    expect(mine.byteLength).toBe(16);
  });
});

describe('writing a stream into a Blob', () => {
  it('gives the bytes in order with the type, copying chunks only when asked', async () => {
    const buf = new Uint8Array(4);
    async function* reused(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 3; i++) {
        buf.fill(i + 1);
        yield buf;
      }
    }
    const b = await streamToBlob(reused(), 'application/x-test', true);
    expect(b.type).toBe('application/x-test');
    expect([...(await bytesOf(b))]).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });

  it('a producer failing after most of its output gives no Blob, only its own error', async () => {
    const err = new SealError('TAMPERED', "the sender's signature does not verify");
    let cleanedUp = false;
    async function* failsLast(): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < 5; i++) yield patternBytes(SLICE, i);
        throw err;
      } finally {
        cleanedUp = true;
      }
    }
    await expect(streamToBlob(failsLast(), 'application/octet-stream')).rejects.toBe(err);
    expect(cleanedUp).toBe(true);
  });
});

describe('seal and open through the streamed path', () => {
  const dana = () => buildParty(profileSecrets(w.dana));
  const plan = (): SealPlan => dedicatedPlan(w.dana, true)!;

  it("sealFile writes a container that Node opens to the same bytes, and judge opens the CLI's container", async () => {
    const sealed = await sealFile(new File([data as BlobPart], 'big.bin', { type: 'application/pdf' }), 'big.bin', plan());
    expect(sealed).toBeInstanceOf(File);
    expect([sealed.name, sealed.type]).toEqual(['big.bin.seal', SEALED_TYPE]);
    const o = await openSealed(blobSource(sealed), { receiver: aliceParty(w), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    const parts: Uint8Array[] = [];
    for await (const c of o.content) parts.push(c.slice());
    expect(sha(Buffer.concat(parts))).toBe(sha(data));
    expect(o.meta).toMatchObject({ name: 'big.bin', type: 'application/pdf', size: data.length });

    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], data, 'big.bin');
    const j = await judge(new Blob([s as BlobPart]), 'big.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(j.view).toMatchObject({ kind: 'certified', file: { name: 'big.bin', size: data.length } });
    expect(j.content).toBeInstanceOf(File);
    expect(sha(await bytesOf(j.content!))).toBe(sha(data));
  });

  it('a change in the last chunk or the signature, or a cut after whole chunks: tampered, and no file at all', async () => {
    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], data, 'big.bin');
    const flipped = (at: number): Buffer => {
      const t = Buffer.from(s);
      t[at]! ^= 1;
      return t;
    };
    // The signature is the last 64 bytes; the last payload chunk ends just before it.
    const cases = { 'last chunk': flipped(s.length - 64 - 5), signature: flipped(s.length - 1), 'cut after two chunks': s.subarray(0, s.length - 2 * SLICE) };
    for (const [what, bytes] of Object.entries(cases)) {
      const j = await judge(new Blob([bytes as BlobPart]), 'big.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
      expect(j.view.kind, what).toBe('tampered');
      expect(j.content, what).toBeUndefined();
      expect(j.view.file, what).toBeUndefined();
    }
  });

  it('signature-only: the plaintext chunks are views of the read slices, and still come out whole', async () => {
    const signOnly: SealPlan = { party: aliceParty(w), recipients: [], addressees: [], origin: 'card', signOnly: true };
    const sealed = await sealFile(new File([data as BlobPart], 's.bin'), 's.bin', signOnly);
    const j = await judge(sealed, 's.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(j.view.kind).toBe('certified');
    expect(sha(await bytesOf(j.content!))).toBe(sha(data));
  });
});

describe('the held WebCrypto hash', () => {
  it('sized from the hint, right whether the hint was exact, short or long, and unharmed by a reused input buffer', async () => {
    const want = sha(data);
    for (const hint of [data.length, 1000, 3 * data.length]) {
      const h = heldSubtleHash((await addonPrimitives()).sha256, hint);
      const reused = new Uint8Array(65_536);
      for (let o = 0; o < data.length; o += reused.length) {
        const piece = data.subarray(o, o + reused.length);
        reused.set(piece);
        h.update(reused.subarray(0, piece.length));
        reused.fill(0);
      }
      expect(Buffer.from(await h.digestAsync!()).toString('hex'), `hint ${hint}`).toBe(want);
      expect(Buffer.from(h.digest()).toString('hex'), `hint ${hint}`).toBe(want);
    }
  });
});
