// A pull reader over any async iterable of byte chunks (Node streams, web streams,
// arrays in tests): exact reads for the header, and a look-ahead for the trailer.
import { malformed } from '../errors.js';

export type ByteSource = AsyncIterable<Uint8Array>;

export class SourceReader {
  private it: AsyncIterator<Uint8Array>;
  private bufs: Uint8Array[] = [];
  private buffered = 0;
  private eof = false;

  constructor(src: ByteSource) {
    this.it = src[Symbol.asyncIterator]();
  }

  get available(): number {
    return this.buffered;
  }
  get ended(): boolean {
    return this.eof;
  }

  /** Buffers until at least n bytes are held or the input ends. */
  async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.eof) {
      const r = await this.it.next();
      if (r.done) this.eof = true;
      else if (r.value.length) {
        this.bufs.push(r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value));
        this.buffered += r.value.length;
      }
    }
  }

  /** Removes and returns exactly n buffered bytes (call fill first). */
  take(n: number): Uint8Array {
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
    if (this.buffered < n) throw malformed(`truncated ${what}`);
    return this.take(n);
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}
