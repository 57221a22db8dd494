// node:crypto AES-256-GCM: the fast path for the CLI, the gateway and the distributor.
// Kept out of the browser bundle: only Node entry points import this file.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LEN, type ChunkCipherFactory } from './aead.js';

export const nodeCipher: ChunkCipherFactory = async (key) => {
  const k = Buffer.from(key);
  return {
    seal(iv, pt) {
      const c = createCipheriv('aes-256-gcm', k, iv);
      const out = Buffer.allocUnsafe(pt.length + TAG_LEN);
      const n = c.update(pt).copy(out, 0);
      c.final();
      c.getAuthTag().copy(out, n);
      return out;
    },
    open(iv, sealed) {
      if (sealed.length < TAG_LEN) throw new Error('chunk too short');
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
      const pt = d.update(sealed.subarray(0, sealed.length - TAG_LEN));
      d.final();
      return pt;
    },
  };
};
