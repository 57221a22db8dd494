import { createHash } from 'node:crypto';
import { nodeCipher } from './aead-node.js';
import type { Primitives } from './primitives.js';

export const nodePrimitives: Primitives = {
  cipher: nodeCipher,
  sha256: () => {
    const h = createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
  },
};
