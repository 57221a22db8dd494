// The Node file path: sealing and opening between file descriptors in one plain loop,
// with positional reads and writes into a few buffers allocated once, no streams and no
// promise per chunk (measured: the stream machinery, not AES-GCM or SHA-256, was the
// cost; bench/container.ts). Same bytes as seal()/openSealed(); the one allocation per
// chunk left is node:crypto's, whose update() always returns a fresh buffer.
import fs from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createHash } from 'node:crypto';
import { malformed, tampered } from '../errors.js';
import type { Cert } from '../certs.js';
import { TAG_LEN, chunkNonce, type ChunkCipher } from './aead.js';
import { PREFIX_LEN, MAC_LEN, SIG_LEN, decodeHeader, parsePrefix, type Header } from './header.js';
import { parseMetaBlock, type FileMeta } from './meta.js';
import { checkSignature } from './open.js';
import type { IncrementalHash } from './primitives.js';
import { chunkCount, sizeMismatch, type SealPrelude } from './seal.js';

export type Progress = (bytesDone: number, total: number) => void;

// node:crypto's update() returns a fresh buffer per call; V8 frees those only at a
// garbage collection, which it starts once ~64 MB of them have piled up, so the
// process grows by that much and keeps touching fresh pages. A young-generation
// collection every few MiB (well under a millisecond: nothing else is young) keeps the
// memory flat and hot. V8 offers no collection call without --expose-gc, so the flag is
// set just long enough to fetch gc() from a fresh context, then cleared again.
const GC_EVERY_BYTES = 4 << 20;
let minorGc: (() => void) | null | undefined;
function collectGarbage(): void {
  if (minorGc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
      minorGc = () => gc({ type: 'minor' });
    } catch {
      minorGc = null; // only memory is at stake, not correctness
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  minorGc?.();
}

/** Calls collectGarbage once every GC_EVERY_BYTES of chunks. */
function garbageMeter(): (n: number) => void {
  let since = 0;
  return (n) => {
    since += n;
    if (since < GC_EVERY_BYTES) return;
    since = 0;
    collectGarbage();
  };
}

// Hand the event loop a turn now and then, so Ctrl-C (which removes the temporary
// file) and progress output are served during a long file without a promise per chunk.
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
  const pt = new Uint8Array(size);
  const ct = j.cipher ? new Uint8Array(size + TAG_LEN) : null;
  pwriteFull(j.output, header.bytes, 0);
  let wpos = header.bytes.length;
  let rpos = 0;
  const meter = garbageMeter();
  for (let k = 0; k < chunks; k++) {
    const view = pt.subarray(0, Math.min(size, total - k * size));
    let off = 0;
    if (k === 0) {
      view.set(metaBlock.subarray(0, view.length));
      off = Math.min(metaBlock.length, view.length);
    }
    const n = preadFull(j.input, view.subarray(off), rpos);
    rpos += n;
    if (off + n !== view.length) throw sizeMismatch(rpos, j.size);
    let out = view;
    if (j.cipher && ct) {
      out = ct.subarray(0, view.length + TAG_LEN);
      const nonce = chunkNonce(k, k + 1 === chunks);
      if (j.cipher.sealInto) j.cipher.sealInto(nonce, view, out);
      else out.set(await j.cipher.seal(nonce, view));
    }
    j.payloadHash.update(out);
    pwriteFull(j.output, out, wpos);
    wpos += out.length;
    if (j.cipher) meter(out.length);
    j.onProgress?.(rpos, j.size);
    if (k % YIELD_EVERY === YIELD_EVERY - 1) await turn();
  }
  if (preadFull(j.input, new Uint8Array(1), rpos) !== 0) throw sizeMismatch(j.size + 1, j.size);
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
    const at = this.start + k * this.full;
    const view = buf.subarray(0, Math.min(this.full, this.end - at));
    if (preadFull(this.fd, view, at) !== view.length) throw tampered('truncated payload');
    return view;
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
  private readonly inBuf: Uint8Array;
  private readonly ptBuf: Uint8Array;
  private firstContent: Uint8Array = new Uint8Array(0);
  private seen = 0;
  private readonly meter = garbageMeter();
  meta!: FileMeta;

  private constructor(private readonly j: FileOpenJob) {
    this.l = new Layout(j.input, j.size, j.header);
    this.inBuf = new Uint8Array(this.l.full);
    this.ptBuf = j.cipher ? new Uint8Array(1 << j.header.chunkLog2) : this.inBuf;
  }

  static async start(j: FileOpenJob): Promise<FileOpener> {
    const o = new FileOpener(j);
    const pt = await o.decrypt(0);
    const got = parseMetaBlock(pt);
    // A chunk that is not the last holds at least 2^16 bytes, more than any metadata block.
    if (!got) throw malformed('payload ends inside the metadata block');
    o.meta = got.meta;
    o.firstContent = o.counted(pt.subarray(got.used));
    return o;
  }

  /** Chunk k, authenticated (and, for the last, the signature over the whole checked). */
  private async decrypt(k: number): Promise<Uint8Array> {
    const { j, l } = this;
    const data = l.chunk(k, this.inBuf);
    j.payloadHash.update(data);
    let pt = data;
    if (j.cipher) {
      try {
        const nonce = chunkNonce(k, k + 1 === l.chunks);
        if (data.length < TAG_LEN) throw new Error('short chunk');
        pt = this.ptBuf.subarray(0, data.length - TAG_LEN);
        if (j.cipher.openInto) j.cipher.openInto(nonce, data, pt);
        else pt.set(await j.cipher.open(nonce, data));
      } catch {
        throw tampered(`payload chunk ${k} does not authenticate (changed, truncated or reordered)`);
      }
      this.meter(pt.length);
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
    pwriteFull(fd, this.firstContent, 0);
    let wpos = this.firstContent.length;
    for (let k = 1; k < this.l.chunks; k++) {
      const pt = this.counted(await this.decrypt(k));
      pwriteFull(fd, pt, wpos);
      wpos += pt.length;
      if (k % YIELD_EVERY === YIELD_EVERY - 1) await turn();
    }
    if (this.seen < this.meta.size) throw malformed('payload is shorter than its stated size');
  }
}
