// node:crypto for the bulk work; payloads of 16 MiB or more are hashed on a second core.
import { createHash } from 'node:crypto';
import { nodeCipher } from './aead-node.js';
import { threadedSha256 } from './hash-thread-node.js';
import type { IncrementalHash, Primitives } from './primitives.js';

const THREAD_FROM = 16 << 20;

const inline = (): IncrementalHash => {
  const h = createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
};

export const nodePrimitives: Primitives = {
  cipher: nodeCipher,
  sha256: inline,
  sha256Bulk: (sizeHint) => (sizeHint >= THREAD_FROM ? threadedSha256() : null) ?? inline(),
};
