// The bulk cipher for payload chunks: AES-256-GCM. Two implementations share this
// interface: WebCrypto (browsers, Thunderbird) here, node:crypto in aead-node.ts.
export interface ChunkCipher {
  /** Returns ciphertext || 16-byte tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** Throws on an authentication failure. */
  open(nonce: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /**
   * Optional allocation-free forms: write into `out` (plaintext.length + TAG_LEN, resp.
   * sealed.length - TAG_LEN bytes). openInto may leave unauthenticated bytes in `out`
   * before it throws; callers never release `out` after a throw.
   */
  sealInto?(nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  openInto?(nonce: Uint8Array, sealed: Uint8Array, out: Uint8Array): void;
}
export type ChunkCipherFactory = (key: Uint8Array) => Promise<ChunkCipher>;

export const TAG_LEN = 16;

export const webCryptoCipher: ChunkCipherFactory = async (raw) => {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('raw', raw as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return {
    seal: async (iv, pt) => new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource }, key, pt as BufferSource)),
    open: async (iv, ct) => new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: iv as BufferSource }, key, ct as BufferSource)),
  };
};

/** STREAM nonce: 11-byte big-endian chunk counter, then 1 on the last chunk, else 0. */
export function chunkNonce(counter: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  let c = counter;
  for (let i = 10; i >= 0 && c > 0; i--) {
    n[i] = c % 256;
    c = Math.floor(c / 256);
  }
  n[11] = last ? 1 : 0;
  return n;
}
