// The Node file path: sealing and opening between file descriptors, with positional
// reads and writes into a few buffers allocated once and no streams (measured: the
// stream machinery, not AES-GCM or SHA-256, was the cost; bench/container.ts). Two
// slots deep: chunk k+1 is read and chunk k-1 written on libuv's thread pool while
// chunk k is encrypted and hashed here. Same bytes as seal()/openSealed(); the one
// allocation per chunk left is node:crypto's, whose update() always returns a fresh
// buffer.
import fs from 'node:fs';
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

export type Progress = (bytesDone: number, total: number) => void;

// node:crypto's update() returns a fresh buffer per call, freed only at a collection:
// one every MiB (every 4 MiB peaked ~4 MB higher at no measurable CPU saving).
const GC_EVERY_BYTES = 1 << 20;

// Hand the event loop a turn now and then during the keyless check below, so Ctrl-C is
// served; the sealing and opening loops await their thread-pool reads and writes anyway.
const YIELD_EVERY = 32;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Reads until `into` is full or the file ends; the number of bytes read. */
export function preadFull(fd: number, into: Uint8Array, pos: number): number {
  let off = 0;
  while (off < into.length) {
    const n = fs.readSync(fd, into, off, into.length - off, pos + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

export function pwriteFull(fd: number, data: Uint8Array, pos: number): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off, pos + off);
}

// The same on libuv's thread pool: the kernel's copies (~0.3 CPU s/GB) then run beside
// AES-GCM and SHA-256 on the main thread, on threads that cost no V8 isolate.
function readAt(fd: number, into: Uint8Array, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const more = (): void =>
      fs.read(fd, into, off, into.length - off, pos + off, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (n === 0 || off === into.length) resolve(off);
        else more();
      });
    if (into.length === 0) resolve(0);
    else more();
  });
}

function writeAt(fd: number, data: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const more = (): void =>
      fs.write(fd, data, off, data.length - off, pos + off, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (off === data.length) resolve();
        else more();
      });
    if (data.length === 0) resolve();
    else more();
  });
}

/**
 * Two slots of a read → transform → write pipeline: chunk k+1 is read and chunk k-1
 * written on the thread pool while chunk k is transformed here. Every operation still
 * in flight is awaited before settle() returns, so a failure never leaves a read or
 * write running against a descriptor the caller is about to close.
 */
class Pipeline {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly writes: (Promise<void> | null)[] = [null, null];

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const drop = (): void => void this.pending.delete(p);
    p.then(drop, drop);
    return p;
  }

  /** Starts a read now; awaiting the result later surfaces its error. */
  read<T>(p: Promise<T>): Promise<T> {
    return this.track(p);
  }

  /** Waits until the write that last used slot `k & 1` is done, so its buffer may be reused. */
  async free(k: number): Promise<void> {
    await this.writes[k & 1];
  }

  write(k: number, fd: number, data: Uint8Array, pos: number): void {
    this.writes[k & 1] = this.track(writeAt(fd, data, pos));
  }

  async drain(): Promise<void> {
    await Promise.all(this.writes);
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

type Pair = [Uint8Array, Uint8Array];
const pair = (n: number): Pair => [new Uint8Array(n), new Uint8Array(n)];
/** The buffer of a pair that chunk k uses. */
const slot = (b: Pair, k: number): Uint8Array => (k & 1 ? b[1] : b[0]);

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
  const pts = pair(size);
  const outs = pair(size + (j.cipher ? TAG_LEN : 0));
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
  const meter = garbageMeter(GC_EVERY_BYTES);
  pwriteFull(j.output, header.bytes, 0);
  let wpos = header.bytes.length;
  try {
    let next = p.read(fill(0));
    for (let k = 0; k < chunks; k++) {
      const view = await next;
      if (k + 1 < chunks) next = p.read(fill(k + 1));
      await p.free(k);
      const out = slot(outs, k).subarray(0, view.length + (j.cipher ? TAG_LEN : 0));
      if (!j.cipher) out.set(view); // the plaintext buffer is refilled while this one is written
      else {
        const nonce = chunkNonce(k, k + 1 === chunks);
        if (j.cipher.sealInto) j.cipher.sealInto(nonce, view, out);
        else out.set(await j.cipher.seal(nonce, view));
        meter(out.length);
      }
      j.payloadHash.update(out);
      p.write(k, j.output, out, wpos);
      wpos += out.length;
      j.onProgress?.(contentAt(k + 1), j.size);
    }
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
  private readonly pts: Pair;
  private firstContent: Uint8Array = new Uint8Array(0);
  private seen = 0;
  private readonly meter = garbageMeter(GC_EVERY_BYTES);
  meta!: FileMeta;

  private constructor(private readonly j: FileOpenJob) {
    this.l = new Layout(j.input, j.size, j.header);
    this.ins = pair(this.l.full);
    this.pts = pair(1 << j.header.chunkLog2);
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
   * Chunk k (read into ins[k & 1]), authenticated into pts[k & 1], and for the last
   * chunk the signature over the whole checked.
   */
  private async decrypt(k: number, data: Uint8Array): Promise<Uint8Array> {
    const { j, l } = this;
    j.payloadHash.update(data);
    let pt: Uint8Array;
    if (j.cipher) {
      try {
        const nonce = chunkNonce(k, k + 1 === l.chunks);
        if (data.length < TAG_LEN) throw new Error('short chunk');
        pt = slot(this.pts, k).subarray(0, data.length - TAG_LEN);
        if (j.cipher.openInto) j.cipher.openInto(nonce, data, pt);
        else pt.set(await j.cipher.open(nonce, data));
      } catch {
        throw tampered(`payload chunk ${k} does not authenticate (changed, truncated or reordered)`);
      }
      this.meter(pt.length);
    } else {
      // A copy: the input buffer is refilled while this one is written.
      pt = slot(this.pts, k).subarray(0, data.length);
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
      let next = l.chunks > 1 ? p.read(l.chunkAsync(1, this.ins[1])) : null;
      for (let k = 1; k < l.chunks; k++) {
        const data = await next!;
        if (k + 1 < l.chunks) next = p.read(l.chunkAsync(k + 1, slot(this.ins, k + 1)));
        await p.free(k);
        const pt = this.counted(await this.decrypt(k, data));
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
