// Test builds only (bench/addon.ts, BENCH_PROBE=1): where the add-on's memory goes when it
// moves a big file, one ingredient at a time: fresh 1 MiB buffers dropped at once, WebCrypto
// outputs, writing through Response.blob() with fresh or reused chunks, and reading a Blob
// by slices or into one buffer. The bench samples the process tree around each probe.
import { SLICE, streamToBlob } from '../lib/bytes.js';
import { chunkNonce } from '../../card/container/aead.js';
import { webPrimitives } from '../../card/container/primitives.js';
import { owns, release } from '../lib/release.js';

export const PROBES = ['garbage', 'aes', 'aes-release', 'blob-random', 'read-slices', 'read-byob'] as const;
export type Probe = (typeof PROBES)[number];

/** How the add-on read files before blobSource: a fresh `slice().arrayBuffer()` per slice, the next read ahead. */
async function* blobChunks(b: Blob, slice = SLICE): AsyncGenerator<Uint8Array> {
  const read = (at: number): Promise<Uint8Array> => b.slice(at, Math.min(b.size, at + slice)).arrayBuffer().then((a) => new Uint8Array(a));
  let next = b.size > 0 ? read(0) : null;
  for (let at = 0; next; ) {
    const cur = await next;
    at += slice;
    next = at < b.size ? read(at) : null;
    // Awaited on the next turn; a failure must not count as unhandled meanwhile.
    next?.catch(() => undefined);
    yield cur;
  }
}

let kept: Blob | null = null;

/** Random 1 MiB chunks, fresh or one reused buffer (as a picked attachment's bytes would be). */
async function* random(n: number, fresh: boolean): AsyncGenerator<Uint8Array> {
  const one = new Uint8Array(SLICE);
  for (let i = 0; i < n; i++) {
    const c = fresh ? new Uint8Array(SLICE) : one;
    for (let k = 0; k < c.length; k += 65536) crypto.getRandomValues(c.subarray(k, k + 65536));
    yield c;
  }
}

/** Runs one probe over `mb` MiB; returns a number so nothing is optimised away. */
export async function probe(kind: Probe, mb: number): Promise<number> {
  switch (kind) {
    case 'garbage': {
      let s = 0;
      for (let i = 0; i < mb; i++) {
        // Filled: an untouched buffer never becomes resident.
        const b = new Uint8Array(SLICE).fill(i);
        s += await Promise.resolve(b.length);
      }
      return s;
    }
    case 'aes': {
      const c = await webPrimitives.cipher(new Uint8Array(32));
      const pt = new Uint8Array(SLICE);
      let s = 0;
      for (let i = 0; i < mb; i++) s += (await c.seal(chunkNonce(i, false), pt)).length;
      return s;
    }
    case 'aes-release': {
      // The same, each result freed with transfer(0) once used.
      const c = await webPrimitives.cipher(new Uint8Array(32));
      const pt = new Uint8Array(SLICE);
      let s = 0;
      for (let i = 0; i < mb; i++) {
        const out = owns(await c.seal(chunkNonce(i, false), pt));
        s += out.length;
        release(out);
      }
      return s;
    }
    case 'blob-random':
      // The kept Blob is what the read probes read.
      kept = await streamToBlob(random(mb, true), 'application/octet-stream');
      return kept.size;
    case 'read-slices': {
      let s = 0;
      for await (const c of blobChunks(kept!)) s += c.length;
      return s;
    }
    case 'read-byob': {
      const r = kept!.stream().getReader({ mode: 'byob' });
      let buf = new Uint8Array(SLICE);
      let s = 0;
      for (;;) {
        const { value, done } = await r.read(buf);
        if (done || !value) break;
        s += value.length;
        buf = new Uint8Array(value.buffer);
      }
      return s;
    }
  }
}
