// node:crypto for the bulk work. The payload hash runs inline: a hashing worker thread
// cost ~11 MB of resident memory (its own V8 isolate) and, per byte, more CPU than it
// moved off the main thread (copying into its ring, waking it); docs/performance.md.
import { createHash } from 'node:crypto';
import { nodeCipher } from './aead-node.js';
import type { IncrementalHash, Primitives } from './primitives.js';

const inline = (): IncrementalHash => {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
};

export const nodePrimitives: Primitives = {
  cipher: nodeCipher,
  sha256: inline,
};
