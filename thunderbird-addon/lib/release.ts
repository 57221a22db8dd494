// Freeing chunk buffers the moment they are written out, instead of at the next garbage
// collection. Measured inside Thunderbird (docs/addon.md): 200 WebCrypto outputs of 1 MiB
// left the process ~100 MB bigger until the collector ran, often only after the file was
// done. An ArrayBuffer detached with `transfer(0)` gives its memory back at once.
//
// Only buffers marked as owned are freed: nothing else may hold a view of them (the add-on's
// cipher marks its WebCrypto results; card/'s seal and open drop each after yielding it).

const owned = new WeakSet<ArrayBufferLike>();
/** How many buffers were freed early, and how many bytes: for the bench. */
export const releasedSoFar = { buffers: 0, bytes: 0 };

/** Marks `b`'s buffer as held by nobody but the chunk's consumer; returns `b`. */
export function owns(b: Uint8Array): Uint8Array {
  owned.add(b.buffer);
  return b;
}

type Transferable = ArrayBuffer & { transfer?: (n: number) => ArrayBuffer; detached?: boolean };

/** Frees `b`'s buffer now when it was marked as owned; true when it did. */
export function release(b: Uint8Array): boolean {
  const buf = b.buffer as Transferable;
  if (!owned.has(buf) || typeof buf.transfer !== 'function' || buf.detached) return false;
  owned.delete(buf);
  releasedSoFar.buffers++;
  releasedSoFar.bytes += buf.byteLength;
  buf.transfer(0);
  return true;
}

let copies: Promise<boolean> | null = null;

/**
 * Whether this engine's Response copies each chunk of a body stream once it has read it, so
 * that streamToBlob may free a chunk two pulls later: the reader asks for a chunk only after
 * it is done with the one before (Gecko copies in FetchStreamReader's chunk steps; Node's
 * Response keeps the chunks until the end, and nothing is freed there). Tried once, on a
 * small body whose first chunk is freed as the third is pulled.
 */
export function responseCopiesChunks(): Promise<boolean> {
  copies ??= (async () => {
    const chunks = [owns(new Uint8Array([1, 2, 3])), new Uint8Array([4, 5]), new Uint8Array([6])];
    let n = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(c) {
          await null;
          if (n === 2 && !release(chunks[0]!)) return c.error(new Error('no transfer'));
          if (n === 3) return c.close();
          c.enqueue(chunks[n++]!);
        },
      },
      { highWaterMark: 1 },
    );
    try {
      return new Uint8Array(await new Response(body).arrayBuffer()).join() === '1,2,3,4,5,6';
    } catch {
      return false;
    }
  })();
  return copies;
}
