// Files and Blobs as the byte streams card/ consumes and produces, without holding a
// whole file in the add-on's memory: input is read into one buffer, output is written into
// a Blob that Gecko keeps on disk once it passes dom.blob.memoryToTemporaryFile (1 MB).

import type { PullSource } from '../../card/container/source.js';
import { release, responseCopiesChunks } from './release.js';

/** How much of a Blob one read takes: the container's chunk size. */
export const SLICE = 1 << 20;

/**
 * A Blob as a PullSource: read into the caller's buffer through a BYOB reader on
 * `blob.stream()`, so reading a 200 MB file allocates one scratch buffer instead of a fresh
 * ArrayBuffer per slice (garbage the collector frees late). BYOB reads detach the buffer
 * they are given, so they go into a scratch buffer of our own, handed back and forth, and
 * are copied into the caller's (which card/'s reader keeps and must not lose).
 */
export function blobSource(b: Blob, scratchSize = SLICE): PullSource {
  let reader: ReadableStreamBYOBReader | null = null;
  let scratch = new Uint8Array(scratchSize);
  let ended = false;
  return {
    async read(into) {
      if (ended) return 0;
      reader ??= b.stream().getReader({ mode: 'byob' });
      const { value, done } = await reader.read(new Uint8Array(scratch.buffer, 0, Math.min(into.length, scratch.buffer.byteLength)));
      // The scratch comes back in `value`, at the end too (empty then).
      if (value) scratch = new Uint8Array(value.buffer);
      if (done || !value) {
        ended = true;
        return 0;
      }
      into.set(value);
      return value.length;
    },
  };
}

/**
 * Writes a stream of chunks into a Blob of the given type through `Response.blob()`,
 * which in Gecko moves the data to a temporary file as it grows, so the result is never
 * held in JavaScript memory. The Blob exists only once the stream ended without an error:
 * a failure (tampering found at the last chunk) rejects with the producer's own error, and
 * the partial data is dropped with the stream. Each chunk is copied when `copy` is set,
 * for producers that reuse their buffers. A chunk whose buffer is marked as owned
 * (release.ts) is freed as soon as the Response has surely copied it, two chunks later.
 */
export async function streamToBlob(gen: AsyncIterable<Uint8Array>, type: string, copy = false): Promise<Blob> {
  const it = gen[Symbol.asyncIterator]();
  const freeing = await responseCopiesChunks();
  let failure: { e: unknown } | null = null;
  const taken: Uint8Array[] = [];
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        try {
          const r = await it.next();
          // With one chunk of queue, a pull means the last chunk was taken, and the reader
          // asked for it only once done with (and, in Gecko, copied) the one before.
          if (taken.length === 2) release(taken.shift()!);
          if (r.done) return c.close();
          const chunk = copy ? r.value.slice() : r.value;
          if (freeing) taken.push(chunk);
          c.enqueue(chunk);
        } catch (e) {
          failure = { e };
          throw e;
        }
      },
      async cancel() {
        await it.return?.(undefined);
      },
    },
    // One chunk ahead at most: the producer runs as fast as the file is written.
    { highWaterMark: 1 },
  );
  try {
    return await new Response(body, { headers: { 'content-type': type } }).blob();
  } catch (e) {
    throw failure ? (failure as { e: unknown }).e : e;
  }
}

export const emailOf = (r: string): string => {
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(r) ?? /([^\s<>,;"]+@[^\s<>,;"]+)/.exec(r);
  return (m?.[1] ?? r).trim().toLowerCase();
};
