// Files and Blobs as the byte streams card/ consumes and produces.
export async function* blobChunks(b: Blob): AsyncGenerator<Uint8Array> {
  const reader = b.stream().getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value as Uint8Array;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Collects a stream of chunks; each is copied, since producers may reuse buffers. */
export async function collectParts(gen: AsyncIterable<Uint8Array>): Promise<{ parts: Uint8Array[]; size: number }> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const p of gen) {
    parts.push(p.slice());
    size += p.length;
  }
  return { parts, size };
}

export const emailOf = (r: string): string => {
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(r) ?? /([^\s<>,;"]+@[^\s<>,;"]+)/.exec(r);
  return (m?.[1] ?? r).trim().toLowerCase();
};
