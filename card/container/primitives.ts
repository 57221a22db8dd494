// The two bulk primitives the container needs, injectable so each platform uses its
// fastest audited implementation: node:crypto in Node (primitives-node.ts), WebCrypto
// and @noble/hashes elsewhere (Thunderbird has no incremental native SHA-256).
import { sha256 } from '@noble/hashes/sha2.js';
import { webCryptoCipher, type ChunkCipherFactory } from './aead.js';

export interface IncrementalHash {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
  /** Optional: preferred when present (WebCrypto digests, as in the add-on, resolve later). */
  digestAsync?(): Promise<Uint8Array>;
}

/** The digest, through digestAsync when the hash has one. */
export const finish = (h: IncrementalHash): Uint8Array | Promise<Uint8Array> => (h.digestAsync ? h.digestAsync() : h.digest());

export interface Primitives {
  cipher: ChunkCipherFactory;
  sha256(): IncrementalHash;
  /** Optional: a hash for about `sizeHint` bytes of payload (the add-on holds small ones for one WebCrypto digest). */
  sha256Bulk?(sizeHint: number): IncrementalHash;
}

export const webPrimitives: Primitives = {
  cipher: webCryptoCipher,
  sha256: () => {
    const h = sha256.create();
    return { update: (d) => void h.update(d), digest: () => h.digest() };
  },
};
