// node:crypto AES-256-GCM: the fast path for the CLI, the gateway and the distributor.
// Kept out of the browser bundle: only Node entry points import this file.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LEN, type ChunkCipherFactory } from './aead.js';

// update() allocates its output; feeding it small pieces keeps each allocation small
// enough for malloc to recycle while it is still in cache, instead of touching fresh
// pages for every 1 MiB chunk (docs/FORMAT.md is unaffected: GCM is the same either way).
const PIECE = 16 * 1024;

export const nodeCipher: ChunkCipherFactory = async (key) => {
  const k = Buffer.from(key);
  const sealInto = (iv: Uint8Array, pt: Uint8Array, out: Uint8Array): void => {
    if (out.length !== pt.length + TAG_LEN) throw new RangeError('output size');
    const c = createCipheriv('aes-256-gcm', k, iv);
    for (let o = 0; o < pt.length; o += PIECE) out.set(c.update(pt.subarray(o, o + PIECE)), o);
    c.final();
    out.set(c.getAuthTag(), pt.length);
  };
  const openInto = (iv: Uint8Array, sealed: Uint8Array, out: Uint8Array): void => {
    const n = sealed.length - TAG_LEN;
    if (n < 0 || out.length !== n) throw new RangeError('output size');
    const d = createDecipheriv('aes-256-gcm', k, iv);
    d.setAuthTag(sealed.subarray(n));
    for (let o = 0; o < n; o += PIECE) out.set(d.update(sealed.subarray(o, Math.min(o + PIECE, n))), o);
    d.final();
  };
  return {
    sealInto,
    openInto,
    seal(iv, pt) {
      const out = new Uint8Array(pt.length + TAG_LEN);
      sealInto(iv, pt, out);
      return out;
    },
    open(iv, sealed) {
      if (sealed.length < TAG_LEN) throw new Error('chunk too short');
      const out = new Uint8Array(sealed.length - TAG_LEN);
      openInto(iv, sealed, out);
      return out;
    },
  };
};
