// The one MIME walk of the IMAP side, for every message whatever its size: the source is
// pushed through in pieces (one piece for a small message fetched whole, many for a
// large one streamed), and the walk finds every sealcode attachment (decoded on the fly
// into a sink) and every other attachment-like part, at any depth, forwarded messages
// (message/rfc822) included. Only header blocks and the lines that start with "--" are
// looked at as lines; everything else passes through in bulk.
//
// Malformed structure is read the way a tolerant reader (mailparser) reads it: a
// delimiter of an enclosing multipart also ends the inner ones, a multipart whose closing
// delimiter never comes ends with the message (its last part kept), a delimiter line may
// carry trailing whitespace, and the line break before a delimiter belongs to it.
//
// Limits (parts, depth, bytes, header block) are never silent: the first one reached
// stops the walk and is reported, and a seal cut short by it is withdrawn, not judged.
import { parseHeaders, parseStructured, type HeaderField } from '../mime.js';
import type { LimitKind, Limits } from '../verdict.js';
import { isSealPart } from './parts.js';
import { decoderFor, type Decoder } from './transfer.js';

export interface Leaf {
  /** IMAP-style part number, for the log */
  part: string;
  filename?: string;
  contentType: string;
}

/** Where a seal's decoded bytes go. `abort` withdraws a seal the walk could not finish. */
export interface SealSink {
  write(b: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
  abort(): void;
}

export interface WalkResult {
  seals: Leaf[];
  unsealed: Leaf[];
  exceeded?: LimitKind;
  messageId?: string;
  from?: string;
}

interface Frame {
  delim: Buffer;
  num: string;
  depth: number;
  count: number;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASHES = Buffer.from('\n--', 'latin1');
const EMPTY = Buffer.alloc(0);
/** A delimiter line is short; a longer line starting with "-" is content. */
const MAX_DELIM_LINE = 1000;
/** What a message body (not an attachment) may be. */
const BODY_TYPES = new Set(['text/plain', 'text/html']);
const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);

const get = (h: HeaderField[], name: string): string | undefined => h.find((x) => x.name === name)?.value;

function isWhitespace(b: Buffer, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0x20 && b[i] !== 0x09 && b[i] !== CR && b[i] !== LF) return false;
  return true;
}

function addressOf(from: string | undefined): string | undefined {
  if (!from) return undefined;
  return /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /[^\s<>"]+@[^\s<>"]+/.exec(from)?.[0];
}

export class MimeWalker {
  private readonly frames: Frame[] = [];
  private mode: 'header' | 'body' | 'skip' | 'stopped' = 'header';
  private entity = { num: '', depth: 0 };
  private header: Buffer[] = [];
  private headerBytes = 0;
  private carry: Buffer = EMPTY;
  private atLineStart = true;
  /** The line break ending the body content so far: dropped if a delimiter follows. */
  private held: Buffer | undefined;
  private sink: SealSink | undefined;
  private decoder: Decoder | undefined;
  private parts = 1;
  private bytes = 0;
  private readonly result: WalkResult = { seals: [], unsealed: [] };

  constructor(
    private readonly limits: Limits,
    private readonly openSeal: (leaf: Leaf) => SealSink,
  ) {}

  /** False once a limit stopped the walk: the rest of the message need not be read. */
  get walking(): boolean {
    return this.mode !== 'stopped';
  }

  async write(chunk: Buffer): Promise<boolean> {
    if (this.mode === 'stopped') return false;
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxBytes) {
      this.stop('size');
      return false;
    }
    // A line cut by the last piece is finished with the head of this one; the rest of the
    // piece is not copied.
    const lf = this.carry.length ? chunk.indexOf(LF) : -1;
    if (lf >= 0) {
      const head = Buffer.concat([this.carry, chunk.subarray(0, lf + 1)]);
      this.carry = EMPTY;
      await this.process(head, false);
      chunk = chunk.subarray(lf + 1);
    }
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = EMPTY;
    await this.process(buf, false);
    return this.walking;
  }

  async end(): Promise<WalkResult> {
    if (this.mode !== 'stopped') {
      const rest = this.carry;
      this.carry = EMPTY;
      await this.process(rest, true);
      if (this.mode === 'header') await this.headerDone();
      // A part the message ends in keeps its last line break, as mailparser keeps it.
      if (this.mode === 'body') await this.finishLeaf(true);
    }
    return this.result;
  }

  private stop(kind: LimitKind): void {
    if (this.mode === 'body') {
      this.sink!.abort();
      this.result.seals.pop();
    }
    this.sink = undefined;
    this.result.exceeded ??= kind;
    this.mode = 'stopped';
  }

  private async process(buf: Buffer, eof: boolean): Promise<void> {
    const len = buf.length;
    let p = 0;
    while (p < len) {
      if (this.mode === 'stopped') return;
      if (this.mode === 'header') {
        const lf = buf.indexOf(LF, p);
        if (lf < 0 && !eof) {
          this.carry = buf.subarray(p);
          if (this.headerBytes + this.carry.length > this.limits.maxHeaderBytes) this.stop('header');
          return;
        }
        const end = lf < 0 ? len : lf + 1;
        const line = buf.subarray(p, end);
        p = end;
        if (line[0] === DASH && line[1] === DASH) {
          const b = this.delimiter(line);
          if (b) {
            await this.onDelimiter(b.frame, b.close);
            continue;
          }
        }
        if (line.length === 0 || line[0] === LF || (line[0] === CR && line[1] === LF)) {
          await this.headerDone();
          continue;
        }
        this.header.push(line);
        this.headerBytes += line.length;
        if (this.headerBytes > this.limits.maxHeaderBytes) this.stop('header');
        continue;
      }
      if (!this.atLineStart) {
        const lf = buf.indexOf(LF, p);
        if (lf >= 0) {
          await this.emit(buf.subarray(p, lf + 1));
          p = lf + 1;
          this.atLineStart = true;
          continue;
        }
        // A CR may be the first half of the line break: decided with the next piece.
        const end = !eof && buf[len - 1] === CR ? len - 1 : len;
        await this.emit(buf.subarray(p, end));
        this.carry = buf.subarray(end);
        return;
      }
      if (buf[p] === DASH) {
        const lf = buf.indexOf(LF, p);
        if (lf < 0 && !eof && len - p <= MAX_DELIM_LINE) {
          this.carry = buf.subarray(p);
          return;
        }
        const end = lf < 0 ? (eof ? len : Math.min(len, p + MAX_DELIM_LINE)) : lf + 1;
        const line = buf.subarray(p, end);
        const b = lf < 0 && !eof ? undefined : this.delimiter(line);
        p = end;
        if (b) {
          this.held = undefined;
          await this.onDelimiter(b.frame, b.close);
        } else {
          await this.emit(line);
          this.atLineStart = lf >= 0;
        }
        continue;
      }
      // Only a line starting with "--" can end this content.
      const next = buf.indexOf(NL_DASHES, p);
      if (next >= 0) {
        await this.emit(buf.subarray(p, next + 1));
        p = next + 1;
        continue;
      }
      const last = buf.lastIndexOf(LF);
      if (last >= p) {
        await this.emit(buf.subarray(p, last + 1));
        p = last + 1;
        continue;
      }
      // A partial line that is not a delimiter ("-" alone may still become one).
      if (buf[p] === DASH) {
        this.carry = buf.subarray(p);
        return;
      }
      this.atLineStart = false;
    }
  }

  /** The frame a delimiter line belongs to (innermost first) and whether it closes. */
  private delimiter(line: Buffer): { frame: number; close: boolean } | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const d = this.frames[i]!.delim;
      if (line.length < d.length || line.compare(d, 0, d.length, 0, d.length) !== 0) continue;
      const close = line[d.length] === DASH && line[d.length + 1] === DASH;
      if (close || isWhitespace(line, d.length)) return { frame: i, close };
    }
    return undefined;
  }

  private async onDelimiter(frame: number, close: boolean): Promise<void> {
    await this.finishLeaf(false);
    // A delimiter of an enclosing multipart ends every multipart inside it.
    this.frames.length = frame + 1;
    this.atLineStart = true;
    const f = this.frames[frame]!;
    if (close) {
      this.frames.pop();
      this.mode = 'skip';
      return;
    }
    f.count++;
    this.startEntity(f.num ? `${f.num}.${f.count}` : String(f.count), f.depth + 1);
  }

  private startEntity(num: string, depth: number): void {
    this.mode = 'header';
    this.entity = { num, depth };
    this.header = [];
    this.headerBytes = 0;
    if (++this.parts > this.limits.maxParts) this.stop('parts');
    else if (depth > this.limits.maxDepth) this.stop('depth');
  }

  private async headerDone(): Promise<void> {
    const headers = parseHeaders(Buffer.concat(this.header).toString('latin1'));
    this.header = [];
    this.atLineStart = true;
    const { num, depth } = this.entity;
    if (this.parts === 1 && this.result.messageId === undefined && this.result.from === undefined) {
      this.result.messageId = get(headers, 'message-id')?.trim();
      this.result.from = addressOf(get(headers, 'from'));
    }
    const ct = parseStructured(get(headers, 'content-type'));
    const type = ct.value || 'text/plain';
    const cd = parseStructured(get(headers, 'content-disposition'));
    const filename = cd.params['filename'] ?? ct.params['name'];
    const leaf: Leaf = { part: num || '1', filename, contentType: type };
    this.mode = 'skip';
    if (type.startsWith('multipart/') && ct.params['boundary']) {
      this.frames.push({ delim: Buffer.from('--' + ct.params['boundary'], 'latin1'), num, depth, count: 0 });
      return;
    }
    const cte = (get(headers, 'content-transfer-encoding') ?? '').trim().toLowerCase();
    // A forwarded message: its own header block starts right here. One whose body is
    // transfer-encoded cannot be walked in place and counts as an unsealed attachment.
    if (MESSAGE_TYPES.has(type) && cte !== 'base64' && cte !== 'quoted-printable') {
      this.startEntity(num || '1', depth + 1);
      return;
    }
    if (isSealPart(type, filename)) {
      this.result.seals.push(leaf);
      this.sink = this.openSeal(leaf);
      this.decoder = decoderFor(cte);
      this.mode = 'body';
      return;
    }
    // Anything a reader sees as an attachment: a named or non-text part, a multipart
    // that cannot be split (no boundary), a message that cannot be walked.
    if (!BODY_TYPES.has(type) || filename !== undefined || cd.value === 'attachment') this.result.unsealed.push(leaf);
  }

  private async emit(content: Buffer): Promise<void> {
    if (this.mode !== 'body' || content.length === 0) return;
    const n = content.length;
    let eol = 0;
    if (content[n - 1] === LF) eol = n >= 2 && content[n - 2] === CR ? 2 : 1;
    if (this.held) await this.deliver(this.held);
    this.held = undefined;
    if (eol) {
      // Copied: the source buffer may be reused by whoever fetched it.
      this.held = Buffer.from(content.subarray(n - eol));
      await this.deliver(content.subarray(0, n - eol));
    } else await this.deliver(content);
  }

  private async deliver(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    const out = this.decoder!.push(b);
    if (out.length) await this.sink!.write(out);
  }

  private async finishLeaf(keepHeld: boolean): Promise<void> {
    if (this.mode === 'body') {
      if (keepHeld && this.held) await this.deliver(this.held);
      const rest = this.decoder!.end();
      if (rest.length) await this.sink!.write(rest);
      await this.sink!.end();
    }
    this.held = undefined;
    this.sink = undefined;
    this.decoder = undefined;
    this.mode = 'skip';
  }
}

/** Walks a whole source held in memory (a small message fetched in bulk). */
export async function walkSource(source: Buffer, limits: Limits, openSeal: (leaf: Leaf) => SealSink): Promise<WalkResult> {
  const w = new MimeWalker(limits, openSeal);
  await w.write(source);
  return w.end();
}

/**
 * A sink that keeps a seal's decoded bytes in memory (a small message walked whole: the
 * pieces are the decoder's own output or slices of a source that is not reused).
 */
export function collectingSink(): SealSink & { data(): Buffer; aborted: boolean } {
  const pieces: Buffer[] = [];
  const s = {
    aborted: false,
    write: (b: Buffer) => void pieces.push(b),
    end: () => {},
    abort: () => void (s.aborted = true),
    data: () => (pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)),
  };
  return s;
}
