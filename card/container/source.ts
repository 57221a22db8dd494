// A pull reader over any async iterable of byte chunks (Node streams, web streams,
// arrays in tests): exact reads for the header, and a look-ahead for the trailer.
// A PullSource (read into a caller's buffer, like a file handle) avoids a fresh
// allocation per read: the reader then keeps one buffer and hands out views of it.
import { malformed } from '../errors.js';

export type ByteSource = AsyncIterable<Uint8Array>;

/** Reads into the given buffer; resolves to the number of bytes read, 0 at the end. */
export interface PullSource {
  read(into: Uint8Array): Promise<number>;
}

/** What seal, openSealed and verifySealed accept. */
export type SealInput = ByteSource | PullSource;

export const isPullSource = (s: SealInput): s is PullSource =>
  !(Symbol.asyncIterator in s) && typeof (s as PullSource).read === 'function';

/** Reads until `into` is full or the source ends; the number of bytes read. */
export async function readFull(src: PullSource, into: Uint8Array): Promise<number> {
  let off = 0;
  while (off < into.length) {
    const n = await src.read(into.subarray(off));
    if (!(n > 0)) break;
    off += n;
  }
  return off;
}

const PULL_MIN_BUFFER = 4 << 20;

export class SourceReader {
  private it: AsyncIterator<Uint8Array> | null = null;
  private pull: PullSource | null = null;
  private bufs: Uint8Array[] = [];
  private buffered = 0;
  private eof = false;
  // Pull mode: bytes [start, end) of `buf` are buffered; one read may be in flight into [end, ...).
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private pending: Promise<number> | null = null;

  constructor(src: SealInput) {
    if (isPullSource(src)) this.pull = src;
    else this.it = src[Symbol.asyncIterator]();
  }

  /** In pull mode a view from take() is valid only until the next fill(). */
  get volatileViews(): boolean {
    return this.pull !== null;
  }

  get available(): number {
    return this.pull ? this.end - this.start : this.buffered;
  }
  get ended(): boolean {
    return this.eof;
  }

  /** Buffers until at least n bytes are held or the input ends. */
  async fill(n: number): Promise<void> {
    if (this.pull) return this.fillPull(n);
    while (this.buffered < n && !this.eof) {
      const r = await this.it!.next();
      if (r.done) this.eof = true;
      else if (r.value.length) {
        this.bufs.push(r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value));
        this.buffered += r.value.length;
      }
    }
  }

  private async settle(): Promise<void> {
    if (!this.pending) return;
    const n = await this.pending;
    this.pending = null;
    if (n > 0) this.end += n;
    else this.eof = true;
  }

  private startRead(): void {
    const p = this.pull!.read(this.buf.subarray(this.end));
    // A failed read-ahead surfaces at the next fill(); until then it must not count as unhandled.
    p.catch(() => undefined);
    this.pending = p;
  }

  private async fillPull(n: number): Promise<void> {
    await this.settle();
    while (this.end - this.start < n && !this.eof) {
      if (this.buf.length - this.start < n) {
        // Not enough room behind the unread bytes: move them to the front (or grow).
        const cap = Math.max(PULL_MIN_BUFFER, 3 * n);
        const held = this.buf.subarray(this.start, this.end);
        if (cap > this.buf.length) {
          const nb = new Uint8Array(cap);
          nb.set(held);
          this.buf = nb;
        } else this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      this.startRead();
      await this.settle();
    }
    // Read ahead while the caller works on what it takes, when there is room for a good piece.
    if (!this.eof && this.buf.length - this.end >= Math.min(n, this.buf.length >> 2)) this.startRead();
  }

  /** Removes and returns exactly n buffered bytes (call fill first). */
  take(n: number): Uint8Array {
    if (this.pull) {
      if (n > this.end - this.start) throw malformed('truncated input');
      const out = this.buf.subarray(this.start, this.start + n);
      this.start += n;
      return out;
    }
    if (n > this.buffered) throw malformed('truncated input');
    const first = this.bufs[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.bufs.shift();
      else this.bufs[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const b = this.bufs[0]!;
      const k = Math.min(b.length, n - o);
      out.set(b.subarray(0, k), o);
      o += k;
      if (k === b.length) this.bufs.shift();
      else this.bufs[0] = b.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  async readExactly(n: number, what: string): Promise<Uint8Array> {
    await this.fill(n);
    if (this.available < n) throw malformed(`truncated ${what}`);
    return this.take(n);
  }

  async close(): Promise<void> {
    if (this.pending) await this.pending.catch(() => undefined);
    this.pending = null;
    await this.it?.return?.();
  }
}
