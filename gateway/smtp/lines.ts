// Lines of a file, read in large chunks and handed out as views. A line longer than
// MAX_PIECE is handed out in pieces (only the first has `start`), so a message without
// line breaks never makes one huge string: memory stays bounded by the chunk size.
import fs from 'node:fs';

export interface Line {
  /** the bytes, line break included when there is one */
  buf: Buffer;
  /** this piece begins a line (only such a piece can be a MIME delimiter) */
  start: boolean;
}

const MAX_PIECE = 64 * 1024;
// 256 KB reads: with 1 MB ones the worker held a few more MB of file buffers at once.
const CHUNK = 256 << 10;

export class LineReader {
  private back: Line[] = [];
  private readonly chunks: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private atStart = true;
  private done = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.chunks = (async function* () {
      for await (const c of source) yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    })();
  }

  static ofFile(file: string): LineReader {
    return new LineReader(fs.createReadStream(file, { highWaterMark: CHUNK }));
  }

  /** Gives a line back; the next `next()` returns it again. */
  unread(l: Line): void {
    this.back.push(l);
  }

  // Lines are cut one at a time as they are asked for: a line object lives only while
  // its line is handled, so none survives long enough to be promoted to V8's old space.
  async next(): Promise<Line | null> {
    if (this.back.length) return this.back.pop()!;
    for (;;) {
      const nl = this.buf.indexOf(10, this.pos);
      const end = nl >= 0 ? nl + 1 : this.buf.length;
      if (end - this.pos > MAX_PIECE) return this.take(this.pos + MAX_PIECE, false);
      if (nl >= 0) return this.take(end, true);
      if (this.done) return this.pos < this.buf.length ? this.take(this.buf.length, true) : null;
      const r = await this.chunks.next();
      const rest = this.buf.subarray(this.pos);
      if (r.done) this.done = true;
      else this.buf = rest.length ? Buffer.concat([rest, r.value]) : r.value;
      if (r.done) this.buf = rest;
      this.pos = 0;
    }
  }

  private take(end: number, lineEnds: boolean): Line {
    const l = { buf: this.buf.subarray(this.pos, end), start: this.atStart };
    this.pos = end;
    this.atStart = lineEnds;
    return l;
  }
}
