// The container's bulk primitives inside Thunderbird. AES-GCM is WebCrypto (native).
// SHA-256 must be incremental, which WebCrypto is not, and Debian's Thunderbird runs
// extension JavaScript without its JIT (javascript.options.baselinejit=false): a pure-JS
// SHA-256 hashed 0.4 MB/s there. WebAssembly is compiled regardless, so the running hash
// is hash-wasm's. Hashers are created ahead (creation is async, the interface is sync).
import { createSHA256, type IHasher } from 'hash-wasm';
import { webCryptoCipher } from '../../card/container/aead.js';
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

/** Primitives for one seal/open/verify call: await before each. */
export async function addonPrimitives(): Promise<Primitives> {
  if (!(await fill())) return webPrimitives;
  return { cipher: webCryptoCipher, sha256: pooled };
}
