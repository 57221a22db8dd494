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
const CHUNK = 1 << 20;

export class LineReader {
  private back: Line[] = [];
  private readonly chunks: AsyncIterator<Buffer>;
  private carry: Buffer = Buffer.alloc(0);
  private carryStart = true;
  private queue: Line[] = [];
  private qi = 0;
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

  async next(): Promise<Line | null> {
    if (this.back.length) return this.back.pop()!;
    while (this.qi >= this.queue.length) {
      if (this.done) return null;
      await this.fill();
    }
    return this.queue[this.qi++]!;
  }

  private async fill(): Promise<void> {
    this.queue = [];
    this.qi = 0;
    const r = await this.chunks.next();
    if (r.done) {
      this.done = true;
      if (this.carry.length) this.queue.push({ buf: this.carry, start: this.carryStart });
      this.carry = Buffer.alloc(0);
      return;
    }
    const buf = this.carry.length ? Buffer.concat([this.carry, r.value]) : r.value;
    let from = 0;
    let start = this.carryStart;
    for (;;) {
      const nl = buf.indexOf(10, from);
      if (nl < 0) break;
      // A line longer than a piece is cut into pieces; only the first one starts the line.
      while (nl + 1 - from > MAX_PIECE) {
        this.queue.push({ buf: buf.subarray(from, from + MAX_PIECE), start });
        from += MAX_PIECE;
        start = false;
      }
      this.queue.push({ buf: buf.subarray(from, nl + 1), start });
      from = nl + 1;
      start = true;
    }
    while (buf.length - from > MAX_PIECE) {
      this.queue.push({ buf: buf.subarray(from, from + MAX_PIECE), start });
      from += MAX_PIECE;
      start = false;
    }
    // Copied, so the big chunk it came from can be freed.
    this.carry = Buffer.from(buf.subarray(from));
    this.carryStart = start;
  }
}
