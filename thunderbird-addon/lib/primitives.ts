// The container's bulk primitives inside Thunderbird. AES-GCM is WebCrypto (native).
// SHA-256 must be incremental, which WebCrypto is not, and Debian's Thunderbird runs
// extension JavaScript without its JIT (javascript.options.baselinejit=false): a pure-JS
// SHA-256 hashed 0.4 MB/s there. So the payload (up to BULK_MAX) is kept and hashed at
// the end by WebCrypto in one call (digestAsync); small and very large inputs use a
// running WebAssembly hash (hash-wasm, compiled regardless of that pref). Hashers are
// created ahead: creation is async, the interface is sync.
import { createSHA256, type IHasher } from 'hash-wasm';
import { webCryptoCipher, type ChunkCipherFactory } from '../../card/container/aead.js';
import { owns } from './release.js';
import { webPrimitives, type IncrementalHash, type Primitives } from '../../card/container/primitives.js';

const pool: IHasher[] = [];
// seal uses two hashers, open and verify up to three at once.
const POOL = 4;

async function fill(): Promise<boolean> {
  try {
    while (pool.length < POOL) pool.push(await createSHA256());
    return true;
  } catch {
    return false; // no WebAssembly: fall back to the pure-JS hash, slower but correct
  }
}

function pooled(): IncrementalHash {
  const h = pool.pop();
  if (!h) return webPrimitives.sha256();
  h.init();
  return {
    update: (d) => void h.update(d),
    digest: () => {
      const out = h.digest('binary');
      pool.push(h);
      return out;
    },
  };
}

/** Above this the payload is hashed as it streams, not held a second time in memory. */
export const BULK_MAX = 96 << 20;

/**
 * Holds the payload and lets WebCrypto hash it at the end (native, ~5x the wasm speed here).
 * One buffer sized from the hint (the payload adds a tag per MiB and the metadata block to
 * the file), grown only when the hint was short: the payload is held once, never joined.
 */
export function heldSubtleHash(fallback: () => IncrementalHash, sizeHint = 0): IncrementalHash {
  let buf = new Uint8Array(sizeHint > 0 ? sizeHint + (sizeHint >> 16) + (64 << 10) : 1 << 20);
  let total = 0;
  const held = (): Uint8Array => buf.subarray(0, total);
  return {
    // A copy: callers may hand out views of buffers they reuse.
    update: (d) => {
      if (total + d.length > buf.length) {
        const grown = new Uint8Array(Math.max(2 * buf.length, total + d.length));
        grown.set(held());
        buf = grown;
      }
      buf.set(d, total);
      total += d.length;
    },
    digest: () => {
      const h = fallback();
      h.update(held());
      return h.digest();
    },
    digestAsync: async () => new Uint8Array(await crypto.subtle.digest('SHA-256', held() as BufferSource)),
  };
}

/**
 * WebCrypto AES-GCM whose results are marked as owned (release.ts): card/'s seal and open
 * yield each once and keep no view, so the writer may free it once written.
 */
const addonCipher: ChunkCipherFactory = async (raw) => {
  const c = await webCryptoCipher(raw);
  return {
    seal: async (iv, pt) => owns(await c.seal(iv, pt)),
    open: async (iv, ct) => owns(await c.open(iv, ct)),
  };
};

/** Primitives for one seal/open/verify call: await before each. */
export async function addonPrimitives(): Promise<Primitives> {
  const wasm = await fill();
  const running = wasm ? pooled : webPrimitives.sha256;
  return {
    cipher: addonCipher,
    sha256: running,
    sha256Bulk: (sizeHint) => (sizeHint > 0 && sizeHint <= BULK_MAX ? heldSubtleHash(running, sizeHint) : running()),
  };
}
