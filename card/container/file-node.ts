// The Node file path: sealing and opening between file descriptors, with positional
// reads and writes into a few buffers allocated once and no streams (measured: the
// stream machinery, not AES-GCM or SHA-256, was the cost; bench/container.ts). Two
// slots deep: chunk k+1 is read and chunk k-1 written on libuv's thread pool while
// chunk k is encrypted and hashed here. Same bytes as seal()/openSealed(); the one
// allocation per chunk left is node:crypto's, whose update() always returns a fresh
// buffer.
import { createHash } from 'node:crypto';
import { malformed, tampered } from '../errors.js';
import type { Cert } from '../certs.js';
import { TAG_LEN, chunkNonce, type ChunkCipher } from './aead.js';
import { PREFIX_LEN, MAC_LEN, SIG_LEN, decodeHeader, parsePrefix, type Header } from './header.js';
import { parseMetaBlock, type FileMeta } from './meta.js';
import { checkSignature } from './open.js';
import type { IncrementalHash } from './primitives.js';
import { chunkCount, sizeMismatch, type SealPrelude } from './seal.js';
import { garbageMeter } from '../gc-nudge.js';
import { Pipeline, pair, preadFull, pwriteFull, readAt, slot, type Pair } from './file-io-node.js';

export type Progress = (bytesDone: number, total: number) => void;

// node:crypto's update() returns a fresh buffer per call, freed only at a collection:
// one every MiB (every 4 MiB peaked ~4 MB higher at no measurable CPU saving).
const GC_EVERY_BYTES = 1 << 20;
// WebCrypto's outputs (pooled ciphers) live until their write is done, a chunk or two:
// collected every MiB they survived two collections, were promoted and stayed until a
// full one (RSS 120 MB at 256 MiB); every 4 MiB they die young (docs/performance.md).
const POOLED_GC_EVERY_BYTES = 4 << 20;

// Hand the event loop a turn now and then during the keyless check below, so Ctrl-C is
// served; the sealing and opening loops await their thread-pool reads and writes anyway.
const YIELD_EVERY = 32;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export interface FileSealJob {
  input: number;
  /** The input's size, as stated in the metadata: any other length aborts the seal. */
  size: number;
  output: number;
  prelude: SealPrelude;
  /** Null for sign-only containers. */
  cipher: ChunkCipher | null;
  payloadHash: IncrementalHash;
  onProgress?: Progress;
}

/** Writes the header and every payload chunk; returns where the trailer signature goes. */
export async function sealChunksToFile(j: FileSealJob): Promise<number> {
  const { header, metaBlock, chunkLog2 } = j.prelude;
  const size = 1 << chunkLog2;
  const total = metaBlock.length + j.size;
  const chunks = chunkCount(total, chunkLog2);
  const cipher = j.cipher;
  const pooled = cipher !== null && !cipher.sealInto;
  const pts = pair(size);
  // Pooled ciphers hand back a fresh buffer per chunk: no output slots of our own.
  const outs = pooled ? null : pair(size + (cipher ? TAG_LEN : 0));
  // Where chunk k's content starts in the input (chunk 0 begins with the metadata block).
  const contentAt = (k: number): number => Math.min(j.size, Math.max(0, k * size - metaBlock.length));
  const p = new Pipeline();
  const fill = async (k: number): Promise<Uint8Array> => {
    const view = slot(pts, k).subarray(0, Math.min(size, total - k * size));
    let off = 0;
    if (k === 0) {
      view.set(metaBlock.subarray(0, view.length));
      off = Math.min(metaBlock.length, view.length);
    }
    const n = await readAt(j.input, view.subarray(off), contentAt(k));
    if (off + n !== view.length) throw sizeMismatch(contentAt(k) + n, j.size);
    return view;
  };
  const meter = garbageMeter(pooled ? POOLED_GC_EVERY_BYTES : GC_EVERY_BYTES);
  /** Chunk k sealed here, into an output slot whose previous write is done. */
  const sealHere = (k: number, view: Uint8Array): Uint8Array => {
    const out = slot(outs!, k).subarray(0, view.length + (cipher ? TAG_LEN : 0));
    if (cipher) cipher.sealInto!(chunkNonce(k, k + 1 === chunks), view, out);
    else out.set(view); // the plaintext buffer is refilled while this one is written
    return out;
  };
  let wpos = header.bytes.length;
  /** Hashes and writes chunk k: on the main thread, while the pool seals chunk k+1. */
  const finish = async (k: number, out: Uint8Array): Promise<void> => {
    if (cipher) meter(out.length);
    j.payloadHash.update(out);
    await p.free(k);
    p.write(k, j.output, out, wpos);
    wpos += out.length;
    j.onProgress?.(contentAt(k + 1), j.size);
  };
  pwriteFull(j.output, header.bytes, 0);
  try {
    let next = p.track(fill(0));
    // Pooled: chunk k is sealed on the thread pool while chunk k-1 is hashed here.
    let behind: Promise<Uint8Array> | null = null;
    for (let k = 0; k < chunks; k++) {
      const view = await next;
      let sealed: Promise<Uint8Array> | null = null;
      if (pooled) sealed = p.track(Promise.resolve(cipher.seal(chunkNonce(k, k + 1 === chunks), view)));
      else await p.free(k);
      const here = pooled ? null : sealHere(k, view);
      if (k + 1 < chunks) next = p.track(fill(k + 1)); // refills the other plaintext slot
      if (here) await finish(k, here);
      if (behind) await finish(k - 1, await behind);
      behind = sealed;
    }
    if (behind) await finish(chunks - 1, await behind);
    await p.drain();
  } finally {
    await p.settle();
  }
  if (preadFull(j.input, new Uint8Array(1), j.size) !== 0) throw sizeMismatch(j.size + 1, j.size);
  return wpos;
}

/** The container header at the start of a file (same errors as the streaming reader). */
export function readHeaderFromFile(fd: number): Header {
  const prefix = new Uint8Array(PREFIX_LEN);
  if (preadFull(fd, prefix, 0) !== PREFIX_LEN) throw malformed('truncated header');
  const bytes = new Uint8Array(PREFIX_LEN + parsePrefix(prefix) + MAC_LEN);
  if (preadFull(fd, bytes, 0) !== bytes.length) throw malformed('truncated header');
  return decodeHeader(bytes);
}

/** Where the payload chunks of a container file lie, and its trailer signature. */
class Layout {
  readonly start: number;
  readonly end: number;
  readonly full: number;
  readonly chunks: number;

  constructor(
    readonly fd: number,
    size: number,
    readonly header: Header,
  ) {
    this.full = (1 << header.chunkLog2) + (header.signOnly ? 0 : TAG_LEN);
    this.start = header.bytes.length;
    this.end = size - SIG_LEN;
    const min = header.signOnly ? 1 : TAG_LEN + 1;
    if (this.end - this.start < min) throw tampered('truncated payload');
    this.chunks = Math.ceil((this.end - this.start) / this.full);
  }

  /** Reads chunk k into buf; a file that shrank meanwhile reads as truncated. */
  chunk(k: number, buf: Uint8Array): Uint8Array {
    const view = this.view(k, buf);
    if (preadFull(this.fd, view, this.at(k)) !== view.length) throw tampered('truncated payload');
    return view;
  }

  /** The same on the thread pool. */
  async chunkAsync(k: number, buf: Uint8Array): Promise<Uint8Array> {
    const view = this.view(k, buf);
    if ((await readAt(this.fd, view, this.at(k))) !== view.length) throw tampered('truncated payload');
    return view;
  }

  private at(k: number): number {
    return this.start + k * this.full;
  }

  private view(k: number, buf: Uint8Array): Uint8Array {
    return buf.subarray(0, Math.min(this.full, this.end - this.at(k)));
  }

  signature(): Uint8Array {
    const sig = new Uint8Array(SIG_LEN);
    if (preadFull(this.fd, sig, this.end) !== SIG_LEN) throw tampered('truncated payload');
    return sig;
  }
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/** Keyless check of a whole container file: the sender's signature over header and payload. */
export async function checkFileSignature(fd: number, size: number, header: Header, origin: Cert, payloadHash: IncrementalHash): Promise<void> {
  const l = new Layout(fd, size, header);
  const buf = new Uint8Array(l.full);
  for (let k = 0; k < l.chunks; k++) {
    payloadHash.update(l.chunk(k, buf));
    if (k % YIELD_EVERY === YIELD_EVERY - 1) await turn();
  }
  checkSignature(origin, sha256(header.bytes), payloadHash.digest(), l.signature());
}

export interface FileOpenJob {
  input: number;
  size: number;
  header: Header;
  /** Null for sign-only containers. */
  cipher: ChunkCipher | null;
  origin: Cert;
  payloadHash: IncrementalHash;
  onProgress?: Progress;
}

/**
 * Decrypts a container file. start() authenticates the first chunk and reads the
 * metadata; writeTo() then writes the content to a file the caller holds back until
 * it returns: a throw (a changed chunk, a bad signature, a wrong size) means the bytes
 * written so far must be discarded.
 */
export class FileOpener {
  private readonly l: Layout;
  private readonly ins: Pair;
  /** The cipher decrypts on the thread pool into buffers of its own (WebCrypto). */
  private readonly pooled: boolean;
  private readonly pts: Pair | null;
  private firstContent: Uint8Array = new Uint8Array(0);
  private seen = 0;
  private readonly meter: (n: number) => void;
  meta!: FileMeta;

  private constructor(private readonly j: FileOpenJob) {
    this.l = new Layout(j.input, j.size, j.header);
    this.ins = pair(this.l.full);
    this.pooled = j.cipher !== null && !j.cipher.openInto;
    this.pts = this.pooled ? null : pair(1 << j.header.chunkLog2);
    this.meter = garbageMeter(this.pooled ? POOLED_GC_EVERY_BYTES : GC_EVERY_BYTES);
  }

  static async start(j: FileOpenJob): Promise<FileOpener> {
    const o = new FileOpener(j);
    const pt = await o.decrypt(0, o.l.chunk(0, o.ins[0]));
    const got = parseMetaBlock(pt);
    // A chunk that is not the last holds at least 2^16 bytes, more than any metadata block.
    if (!got) throw malformed('payload ends inside the metadata block');
    o.meta = got.meta;
    o.firstContent = o.counted(pt.subarray(got.used));
    return o;
  }

  /**
   * Chunk k (read into ins[k & 1]) authenticated, into pts[k & 1] or (pooled) a buffer
   * of the cipher's, and for the last chunk the signature over the whole checked.
   */
  private async decrypt(k: number, data: Uint8Array): Promise<Uint8Array> {
    const { j, l } = this;
    const c = j.cipher;
    const nonce = chunkNonce(k, k + 1 === l.chunks);
    // Started before the hash, so the pool decrypts while this thread hashes.
    const opening = this.pooled && data.length >= TAG_LEN ? attempt(() => c!.open(nonce, data)) : null;
    j.payloadHash.update(data);
    let pt: Uint8Array;
    if (c) {
      try {
        if (data.length < TAG_LEN) throw new Error('short chunk');
        if (opening) pt = await opening;
        else {
          pt = slot(this.pts!, k).subarray(0, data.length - TAG_LEN);
          c.openInto!(nonce, data, pt);
        }
      } catch {
        throw tampered(`payload chunk ${k} does not authenticate (changed, truncated or reordered)`);
      }
      this.meter(pt.length);
    } else {
      // A copy: the input buffer is refilled while this one is written.
      pt = slot(this.pts!, k).subarray(0, data.length);
      pt.set(data);
    }
    if (k + 1 === l.chunks) checkSignature(j.origin, sha256(j.header.bytes), j.payloadHash.digest(), l.signature());
    j.onProgress?.(Math.min(j.size, l.start + (k + 1) * l.full), j.size);
    return pt;
  }

  // Checked before each piece is written, so no byte past the stated size is ever released.
  private counted(b: Uint8Array): Uint8Array {
    this.seen += b.length;
    if (this.seen > this.meta.size) throw malformed('payload is longer than its stated size');
    return b;
  }

  async writeTo(fd: number): Promise<void> {
    const { l } = this;
    const p = new Pipeline();
    try {
      p.write(0, fd, this.firstContent, 0);
      let wpos = this.firstContent.length;
      let next = l.chunks > 1 ? p.track(l.chunkAsync(1, this.ins[1])) : null;
      for (let k = 1; k < l.chunks; k++) {
        const data = await next!;
        if (k + 1 < l.chunks) next = p.track(l.chunkAsync(k + 1, slot(this.ins, k + 1)));
        if (!this.pooled) await p.free(k); // pts[k & 1] is written into next
        const pt = this.counted(await this.decrypt(k, data));
        if (this.pooled) await p.free(k);
        p.write(k, fd, pt, wpos);
        wpos += pt.length;
      }
      await p.drain();
    } finally {
      await p.settle();
    }
    if (this.seen < this.meta.size) throw malformed('payload is shorter than its stated size');
  }
}

/** A call's result as a promise, a synchronous throw included. */
function attempt<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
