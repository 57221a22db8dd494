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
  /** multipart/digest: a part without Content-Type is a message (RFC 2046 5.1.5) */
  digest: boolean;
}

/** What a forwarded message walked from its decoded body shares with the walk around it. */
interface Shared {
  result: WalkResult;
  parts: { n: number };
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
  private entity = { num: '', depth: 0, inDigest: false };
  private header: Buffer[] = [];
  private headerBytes = 0;
  private carry: Buffer = EMPTY;
  private atLineStart = true;
  /** The line break ending the body content so far: dropped if a delimiter follows. */
  private held: Buffer | undefined;
  private sink: SealSink | undefined;
  private decoder: Decoder | undefined;
  /** The walk of a forwarded message whose body is base64 or quoted-printable, fed decoded. */
  private inner: MimeWalker | undefined;
  private bytes = 0;
  private readonly parts: { n: number };
  private readonly result: WalkResult;

  constructor(
    private readonly limits: Limits,
    private readonly openSeal: (leaf: Leaf) => SealSink,
    nested?: { shared: Shared; num: string; depth: number },
  ) {
    this.result = nested?.shared.result ?? { seals: [], unsealed: [] };
    this.parts = nested?.shared.parts ?? { n: 1 };
    if (nested) this.startEntity(nested.num, nested.depth, false);
  }

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
    // A seal being decoded is cut short: withdrawn (the inner walk withdraws its own).
    if (this.inner) this.inner.stop(kind);
    else if (this.mode === 'body') {
      this.sink!.abort();
      this.result.seals.pop();
    }
    this.inner = undefined;
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
    if (this.mode === 'stopped') return;
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
    this.startEntity(f.num ? `${f.num}.${f.count}` : String(f.count), f.depth + 1, f.digest);
  }

  private startEntity(num: string, depth: number, inDigest: boolean): void {
    this.mode = 'header';
    this.entity = { num, depth, inDigest };
    this.header = [];
    this.headerBytes = 0;
    if (++this.parts.n > this.limits.maxParts) this.stop('parts');
    else if (depth > this.limits.maxDepth) this.stop('depth');
  }

  private async headerDone(): Promise<void> {
    const headers = parseHeaders(Buffer.concat(this.header).toString('latin1'));
    this.header = [];
    this.atLineStart = true;
    const { num, depth, inDigest } = this.entity;
    if (this.parts.n === 1 && this.result.messageId === undefined && this.result.from === undefined) {
      this.result.messageId = get(headers, 'message-id')?.trim();
      this.result.from = addressOf(get(headers, 'from'));
    }
    const ct = parseStructured(get(headers, 'content-type'));
    const type = ct.value || (inDigest ? 'message/rfc822' : 'text/plain');
    const cd = parseStructured(get(headers, 'content-disposition'));
    const filename = cd.params['filename'] ?? ct.params['name'];
    const leaf: Leaf = { part: num || '1', filename, contentType: type };
    this.mode = 'skip';
    if (type.startsWith('multipart/') && ct.params['boundary']) {
      this.frames.push({ delim: Buffer.from('--' + ct.params['boundary'], 'latin1'), num, depth, count: 0, digest: type === 'multipart/digest' });
      return;
    }
    // A token with an RFC 822 comment after it (`base64 (note)`) is that token, as mailparser reads it.
    const cte = parseStructured(get(headers, 'content-transfer-encoding')).value.trim();
    // A part a reader lists as a .seal file is judged as one, whatever its type (an attached
    // message named x.seal too: the add-on opens it as a container, and so does this).
    if (isSealPart(type, filename)) {
      this.result.seals.push(leaf);
      this.sink = this.openSeal(leaf);
      this.decoder = decoderFor(cte);
      this.mode = 'body';
      return;
    }
    if (MESSAGE_TYPES.has(type)) {
      // A forwarded message: its own header block starts right here, or, when its body
      // is base64 or quoted-printable (as some clients forward), in that body decoded.
      // Any other encoding (7bit, 8bit, binary, an unknown one) is read as it stands,
      // as a mail reader opening the attached message reads it.
      if (cte === 'base64' || cte === 'quoted-printable') {
        this.inner = new MimeWalker(this.limits, this.openSeal, { shared: { result: this.result, parts: this.parts }, num: num || '1', depth: depth + 1 });
        if (!this.inner.walking) {
          this.inner = undefined;
          this.mode = 'stopped';
          return;
        }
        this.decoder = decoderFor(cte);
        this.mode = 'body';
      } else this.startEntity(num || '1', depth + 1, false);
      return;
    }
    // Anything a reader sees as an attachment: a named or non-text part, a multipart
    // that cannot be split (no boundary).
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
    if (b.length === 0 || this.mode !== 'body') return;
    await this.out(this.decoder!.push(b));
  }

  private async out(decoded: Buffer): Promise<void> {
    if (decoded.length === 0 || this.mode !== 'body') return;
    if (!this.inner) return this.sink!.write(decoded);
    // A limit the inner walk reached stops this one too (the message is not certified).
    if (!(await this.inner.write(decoded))) this.halt();
  }

  /** The inner walk stopped at a limit (already recorded in the shared result). */
  private halt(): void {
    this.inner = undefined;
    this.sink = undefined;
    this.mode = 'stopped';
  }

  private async finishLeaf(keepHeld: boolean): Promise<void> {
    if (this.mode === 'body') {
      if (keepHeld && this.held) await this.deliver(this.held);
      await this.out(this.decoder!.end());
      if (this.inner) {
        await this.inner.end();
        if (!this.inner.walking) this.halt();
        this.inner = undefined;
      } else if (this.sink) await this.sink.end();
    }
    if (this.mode === 'stopped') return;
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
