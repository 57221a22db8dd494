// The submission rewrite, streamed from the spool file to the queue file: one pass
// over the lines, never the whole message in memory. For mail to a mapped recipient
// every part that is not the text or HTML body is sealed (named or unnamed attachments,
// inline images, attached messages, calendar files...); the body, the headers and the
// multipart structure are copied as written. A message whose structure cannot be read
// with certainty is refused, never relayed with something unexamined. For every
// message, a client's own X-Sealcode header is dropped: only the gateway writes it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Party, PullSource, RecipientSpec } from '../../card/index.js';
import { seal } from '../../card/index.js';
import { MAC_LEN, MIN_CHUNK_LOG2, PREFIX_LEN, decodeHeader, parsePrefix } from '../../card/container/header.js';
import { nodePrimitives } from '../../card/node.js';
import type { Primitives } from '../../card/container/primitives.js';
import { SEAL_EXTENSION, SEAL_MIME_TYPE, isSealPart } from '../imap/parts.js';
import { GAME_MIME, isGameMovePart } from '../../game/format.js';
import { headerParam, parseHeaders, parseStructured, type HeaderField } from '../mime.js';
import { decoderFor } from './decode.js';
import { garbageMeter } from '../../card/gc-nudge.js';
import { LineReader, type Line } from './lines.js';
import { fallbackName, safeFileName, safeMimeType } from './names.js';

export interface SealFor {
  sender: Party;
  recipients: RecipientSpec[];
  /** who sealed, for the X-Sealcode note ("card X") */
  describe: string;
  now?: number;
}

export interface RewriteLimits {
  maxParts: number;
  maxDepth: number;
}

export interface RewriteResult {
  /** parts sealed here, as the client named them (sanitised) */
  sealed: { name: string; size: number }[];
  /** parts that already were sealcode containers and were kept */
  kept: number;
  parts: number;
  bytes: number;
}

/** The message is refused for good: the client gets this 5xx and must not retry. */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    readonly enhanced: string,
    message: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

const MAX_HEADER_BYTES = 256 * 1024;
const MAX_BOUNDARY = 998;
const CONTENT_HEADERS = new Set(['content-type', 'content-disposition', 'content-transfer-encoding']);

/** Batches small writes into large ones (256 KB: each decoded part has one too). */
class Out {
  private buf = Buffer.allocUnsafe(256 << 10);
  private pos = 0;
  private readonly meter = garbageMeter();
  bytes = 0;
  constructor(private readonly fh: fsp.FileHandle) {}
  write(b: Buffer | string): Promise<void> | undefined {
    const data = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    this.bytes += data.length;
    // Everything read, decoded and sealed ends up written here: its garbage is in step.
    this.meter(data.length);
    if (this.pos + data.length > this.buf.length || data.length >= this.buf.length) return this.slowWrite(data);
    data.copy(this.buf, this.pos);
    this.pos += data.length;
    return undefined;
  }
  private async slowWrite(data: Buffer): Promise<void> {
    await this.flush();
    if (data.length >= this.buf.length) await this.fh.write(data);
    else {
      data.copy(this.buf, this.pos);
      this.pos += data.length;
    }
  }
  async flush(): Promise<void> {
    if (this.pos) await this.fh.write(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}

interface Delim {
  depth: number;
  close: boolean;
}

/** Is this line a delimiter of one of the open multiparts (innermost first)? Prefix match, as lenient readers do: splitting too eagerly can only seal more. */
function delimiterOf(l: Line, stack: string[]): Delim | null {
  if (!l.start || l.buf.length < 3 || l.buf[0] !== 0x2d || l.buf[1] !== 0x2d) return null;
  for (let d = stack.length - 1; d >= 0; d--) {
    const b = stack[d]!;
    if (l.buf.length >= 2 + b.length && l.buf.toString('latin1', 2, 2 + b.length) === b)
      return { depth: d, close: l.buf.toString('latin1', 2 + b.length, 4 + b.length) === '--' };
  }
  return null;
}

const eolOf = (b: Buffer): number => (b.length && b[b.length - 1] === 10 ? (b.length > 1 && b[b.length - 2] === 13 ? 2 : 1) : 0);

interface Ctx {
  lines: LineReader;
  out: Out;
  stack: string[];
  limits: RewriteLimits;
  seal?: SealFor;
  tmpDir: string;
  result: RewriteResult;
}

const get = (hs: HeaderField[], name: string): string | undefined => hs.find((h) => h.name === name)?.value;

/** A body part shown by every client as the message text: plain or HTML text, not named, not an attachment. */
function isBodyText(type: string, disposition: string, named: boolean): boolean {
  return (type === 'text/plain' || type === 'text/html') && disposition !== 'attachment' && !named;
}

/**
 * The header block as one buffer (not a Buffer per line: a block of 50,000 one-field
 * lines made 50,000 objects, held at every nesting level, ~15 MB of heap per 256 KB).
 */
async function readHeaderBlock(ctx: Ctx): Promise<{ head: Buffer; sep: Buffer | null }> {
  let buf = Buffer.allocUnsafe(4096);
  let size = 0;
  const done = (sep: Buffer | null) => ({ head: Buffer.from(buf.subarray(0, size)), sep });
  for (;;) {
    const l = await ctx.lines.next();
    if (!l) return done(null);
    if (delimiterOf(l, ctx.stack)) {
      // A part cut short inside its header block: no body.
      ctx.lines.unread(l);
      return done(null);
    }
    if (l.start && (l.buf.length === 1 ? l.buf[0] === 10 : l.buf.length === 2 && l.buf[0] === 13 && l.buf[1] === 10)) return done(Buffer.from(l.buf));
    if (size + l.buf.length > MAX_HEADER_BYTES) throw new Refusal(552, '5.3.4', `a header block is larger than ${MAX_HEADER_BYTES} bytes`);
    if (size + l.buf.length > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(MAX_HEADER_BYTES, Math.max(buf.length * 2, size + l.buf.length)));
      buf.copy(bigger, 0, 0, size);
      buf = bigger;
    }
    size += l.buf.copy(buf, size);
  }
}

/** The next line of the current part; null at a delimiter of an open multipart (left unread) or the end. */
async function partLine(ctx: Ctx): Promise<Line | null> {
  const l = await ctx.lines.next();
  if (l && delimiterOf(l, ctx.stack)) {
    ctx.lines.unread(l);
    return null;
  }
  return l;
}

/** Copies lines through until a delimiter of an open multipart (left unread) or the end. */
async function copyUntilDelimiter(ctx: Ctx): Promise<void> {
  for (let l = await partLine(ctx); l; l = await partLine(ctx)) {
    const w = ctx.out.write(l.buf);
    if (w) await w;
  }
}

// Parts up to this size are decoded in memory; larger ones go to a temporary file.
const SPILL_BYTES = 1 << 20;

/** A decoded part: in memory while small, in a temporary file beyond SPILL_BYTES. */
class Decoded {
  private bufs: Buffer[] = [];
  private out?: Out;
  private fh?: fsp.FileHandle;
  private reader?: Promise<fsp.FileHandle>;
  size = 0;
  constructor(private readonly file: string) {}

  async write(b: Buffer): Promise<void> {
    this.size += b.length;
    if (this.out) return this.out.write(b);
    this.bufs.push(Buffer.from(b));
    if (this.size > SPILL_BYTES) {
      this.fh = await fsp.open(this.file, 'wx', 0o600);
      this.out = new Out(this.fh);
      const held = this.bufs;
      this.bufs = [];
      for (const h of held) await this.out.write(h);
    }
  }

  async finish(): Promise<void> {
    await this.out?.flush();
    await this.fh?.close();
  }

  /** The first `n` bytes (or fewer). */
  async head(n: number): Promise<Buffer> {
    if (!this.fh) return Buffer.concat(this.bufs).subarray(0, n);
    const fh = await fsp.open(this.file, 'r');
    try {
      const b = Buffer.alloc(Math.min(n, this.size));
      await fh.read(b, 0, b.length, 0);
      return b;
    } finally {
      await fh.close();
    }
  }

  source(): AsyncIterable<Uint8Array> {
    if (this.fh) return fs.createReadStream(this.file, { highWaterMark: 256 << 10 });
    const all = Buffer.concat(this.bufs);
    return (async function* () {
      yield all;
    })();
  }

  /**
   * A spilled part for seal(): positional reads into seal's own chunk buffers, as the CLI's
   * file path does (no read stream, no buffer allocated per read). Closed by dispose(),
   * which waits for a read still in flight.
   */
  pull(): PullSource | AsyncIterable<Uint8Array> {
    if (!this.fh) return this.source();
    let pos = 0;
    return {
      read: async (into) => {
        this.reader ??= fsp.open(this.file, 'r');
        const { bytesRead } = await (await this.reader).read(into, 0, into.length, pos);
        pos += bytesRead;
        return bytesRead;
      },
    };
  }

  async dispose(): Promise<void> {
    this.bufs = [];
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.then((h) => h.close(), () => undefined);
    if (this.fh) await fsp.rm(this.file, { force: true });
  }
}

/** Decodes the part's body until the next delimiter; the line break before the delimiter belongs to it. */
async function decodePart(ctx: Ctx, cte: string | undefined, into: Decoded): Promise<void> {
  const dec = decoderFor(cte);
  let pendingEol: Buffer | null = null;
  for (let l = await partLine(ctx); l; l = await partLine(ctx)) {
    const e = eolOf(l.buf);
    if (pendingEol) await into.write(pendingEol);
    pendingEol = null;
    const r = dec.push(l.buf.subarray(0, l.buf.length - e), e > 0);
    if (r.data.length) await into.write(r.data);
    if (e && r.keepEol) pendingEol = Buffer.from(l.buf.subarray(l.buf.length - e));
  }
  const tail = dec.end();
  if (tail.length) await into.write(tail);
  await into.finish();
}

/** A sealcode container that is encrypted for someone: kept as it is. */
async function isEncryptedContainer(d: Decoded): Promise<boolean> {
  try {
    const prefix = await d.head(PREFIX_LEN);
    const len = parsePrefix(prefix);
    const all = await d.head(PREFIX_LEN + len + MAC_LEN);
    if (all.length !== PREFIX_LEN + len + MAC_LEN) return false;
    const h = decodeHeader(all);
    return !h.signOnly && h.stanzas.length > 0;
  } catch {
    return false;
  }
}

// node:crypto, but no extra hashing thread for big parts: this already runs on a worker
// thread, and that thread's own V8 heap cost ~30 MB of resident memory for every 40 MB part.
const SEAL_PRIMITIVES: Primitives = { ...nodePrimitives, sha256Bulk: undefined };

// Base64 is made 57 × 512 input bytes at a time: small strings, collected young.
const B64_BLOCK = 57 * 512;

/** Writes bytes as base64 lines of 76 characters. */
async function writeBase64(out: Out, source: AsyncIterable<Uint8Array>, eol: string): Promise<void> {
  const eolBuf = Buffer.from(eol, 'latin1');
  const enc = Buffer.allocUnsafe((B64_BLOCK / 3) * 4);
  let rest = Buffer.alloc(0);
  const block = async (b: Buffer, from: number, to: number): Promise<void> => {
    const n = enc.write(b.toString('base64', from, to), 'latin1');
    for (let i = 0; i < n; i += 76) {
      // Awaited only when the write buffer had to be flushed.
      const a = out.write(enc.subarray(i, Math.min(n, i + 76)));
      if (a) await a;
      const e = out.write(eolBuf);
      if (e) await e;
    }
  };
  for await (const c of source) {
    const b = rest.length ? Buffer.concat([rest, c]) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    const whole = b.length - (b.length % B64_BLOCK);
    for (let i = 0; i < whole; i += B64_BLOCK) await block(b, i, i + B64_BLOCK);
    rest = Buffer.from(b.subarray(whole));
  }
  if (rest.length) await block(rest, 0, rest.length);
}

function headerLines(headers: HeaderField[], eol: string, drop: (name: string) => boolean): string[] {
  return headers.filter((h) => !drop(h.name)).map((h) => h.raw.replace(/\r?\n/g, eol));
}

const headerBlock = (keep: string[], note: string[], eol: string): string => keep.concat(note).join(eol) + (keep.length || note.length ? eol : '');

const latinName = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

async function entity(ctx: Ctx, depth: number, defaultType: string): Promise<void> {
  const top = depth === 0;
  ctx.result.parts++;
  if (ctx.result.parts > ctx.limits.maxParts)
    throw new Refusal(552, '5.3.4', `the message has more than ${ctx.limits.maxParts} MIME parts`);
  const { head, sep } = await readHeaderBlock(ctx);
  // Dropped before the parts of a multipart are walked: nothing of a header block stays
  // held for each level of nesting.
  let headers: HeaderField[] | undefined = parseHeaders(head.toString('latin1').replace(/\r?\n$/, ''));
  const eol = (sep && sep.length === 2) || head.includes('\r\n') || head.length === 0 ? '\r\n' : '\n';
  // Two Content-Type (or disposition, or encoding) fields: readers differ on which one
  // counts, so no reading of this part can be trusted to be the recipient's.
  for (const f of CONTENT_HEADERS)
    if (ctx.seal && headers.filter((h) => h.name === f).length > 1) throw new Refusal(554, '5.6.0', `a part has more than one ${f} field`);
  const ct = parseStructured(get(headers, 'content-type'));
  const type = ct.value || defaultType;
  const cd = parseStructured(get(headers, 'content-disposition'));
  const dropAtTop = (n: string): boolean => top && n === 'x-sealcode';
  const note = top && ctx.seal ? [`X-Sealcode: ${sealNote(ctx.seal)}`] : [];

  if (type.startsWith('multipart/')) {
    const boundary = ct.params['boundary'];
    if (!boundary) throw new Refusal(554, '5.6.0', 'a multipart part has no boundary; its content cannot be examined');
    if (depth >= ctx.limits.maxDepth) throw new Refusal(554, '5.6.0', `MIME parts are nested deeper than ${ctx.limits.maxDepth} levels`);
    // Lines are handed out in pieces of 64 KB; RFC 2046 allows 70 characters.
    if (boundary.length > MAX_BOUNDARY) throw new Refusal(554, '5.6.0', `a multipart boundary is longer than ${MAX_BOUNDARY} characters`);
    await ctx.out.write(headerBlock(headerLines(headers, eol, dropAtTop), note, eol));
    headers = undefined;
    if (sep) await ctx.out.write(sep);
    else return;
    ctx.stack.push(boundary);
    const mine = ctx.stack.length - 1;
    const childType = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    // A multipart whose boundary never occurs would be relayed whole as its "preamble",
    // and some readers show that as text: such a message is refused instead.
    let parts = 0;
    const noParts = (): Refusal => new Refusal(554, '5.6.0', 'a multipart part has no part: its boundary never occurs');
    try {
      for (;;) {
        const l = await ctx.lines.next();
        if (!l) {
          if (!parts) throw noParts();
          return; // never closed: what was read is all there is
        }
        const d = delimiterOf(l, ctx.stack);
        if (!d) {
          await ctx.out.write(l.buf); // preamble
          continue;
        }
        if (d.depth < mine) {
          if (!parts) throw noParts();
          // An outer delimiter closes this multipart too (missing close delimiter).
          ctx.lines.unread(l);
          return;
        }
        parts++;
        await ctx.out.write(l.buf);
        if (d.close) break;
        await entity(ctx, depth + 1, childType);
      }
      // Epilogue, up to the next outer delimiter.
      ctx.stack.pop();
      await copyUntilDelimiter(ctx);
    } finally {
      if (ctx.stack.length > mine) ctx.stack.length = mine;
    }
    return;
  }

  const named = cd.params['filename'] !== undefined || ct.params['name'] !== undefined;
  if (!ctx.seal || isBodyText(type, cd.value, named)) {
    await ctx.out.write(headerBlock(headerLines(headers, eol, dropAtTop), note, eol));
    if (sep) await ctx.out.write(sep);
    await copyUntilDelimiter(ctx);
    return;
  }

  // Everything else is sealed for the mapped recipients.
  const n = ctx.result.sealed.length + ctx.result.kept + 1;
  const name = safeFileName(cd.params['filename'] ?? ct.params['name'], fallbackName(type, n));
  const decoded = new Decoded(path.join(ctx.tmpDir, `part-${crypto.randomBytes(8).toString('hex')}`));
  try {
    if (sep) await decodePart(ctx, get(headers, 'content-transfer-encoding'), decoded);
    const size = decoded.size;
    // A container (or a game move file) sealed by the client is kept as it is, under its own name and type.
    const already = isSealPart(type, name) && (await isEncryptedContainer(decoded));
    const move = already && isGameMovePart(type, name);
    const sealedName = already && (move || name.toLowerCase().endsWith(SEAL_EXTENSION)) ? name : name + SEAL_EXTENSION;
    const keep = headerLines(headers, eol, (h) => CONTENT_HEADERS.has(h) || dropAtTop(h));
    if (top && !headers.some((h) => h.name === 'mime-version')) keep.push('MIME-Version: 1.0');
    const fresh = [
      `Content-Type: ${move ? GAME_MIME : SEAL_MIME_TYPE}; ${latinName(headerParam('name', sealedName))}`,
      `Content-Disposition: attachment; ${latinName(headerParam('filename', sealedName))}`,
      'Content-Transfer-Encoding: base64',
    ];
    await ctx.out.write(keep.concat(fresh, note).join(eol) + eol + eol);
    if (already) {
      await writeBase64(ctx.out, decoded.source(), eol);
      ctx.result.kept++;
    } else {
      const container = seal(decoded.pull(), {
        sender: ctx.seal.sender,
        recipients: ctx.seal.recipients,
        meta: { name, type: safeMimeType(type), size },
        primitives: SEAL_PRIMITIVES,
        // Small parts in small chunks: a 1 MiB chunk buffer for each of thousands of tiny parts is all garbage.
        chunkLog2: size < SPILL_BYTES ? MIN_CHUNK_LOG2 : undefined,
        now: ctx.seal.now,
        // writeBase64 encodes each chunk before it asks for the next one.
        reuseBuffers: true,
      });
      await writeBase64(ctx.out, container, eol);
      ctx.result.sealed.push({ name, size });
    }
  } finally {
    await decoded.dispose();
  }
}

const sealNote = (s: SealFor): string =>
  `non-body parts sealed for ${s.recipients.map((r) => `${r.kind} ${r.label}`).join(', ')} by ${s.describe}`.replace(/[\r\n]/g, ' ');

/** Mail to no mapped recipient: the header without a client's X-Sealcode, the rest as written. */
async function copyWithoutNote(ctx: Ctx): Promise<void> {
  const { head, sep } = await readHeaderBlock(ctx);
  const text = head.toString('latin1').replace(/\r?\n$/, '');
  const eol = (sep && sep.length === 2) || text.includes('\r\n') ? '\r\n' : '\n';
  const keep = headerLines(parseHeaders(text), eol, (n) => n === 'x-sealcode');
  await ctx.out.write(keep.join(eol) + (keep.length ? eol : ''));
  if (sep) await ctx.out.write(sep);
  await copyUntilDelimiter(ctx);
}

/**
 * Rewrites `inFile` into `outFile` (created, fsync'd). With `seal`, every non-body part
 * is sealed; without, the message is copied with only a client's X-Sealcode removed.
 */
export async function rewriteMessage(
  inFile: string,
  outFile: string,
  o: { seal?: SealFor; limits: RewriteLimits; tmpDir: string },
): Promise<RewriteResult> {
  const result: RewriteResult = { sealed: [], kept: 0, parts: 0, bytes: 0 };
  const fh = await fsp.open(outFile, 'wx', 0o600);
  try {
    const out = new Out(fh);
    const ctx: Ctx = { lines: LineReader.ofFile(inFile), out, stack: [], limits: o.limits, seal: o.seal, tmpDir: o.tmpDir, result };
    if (o.seal) await entity(ctx, 0, 'text/plain');
    else await copyWithoutNote(ctx);
    // Anything after the top-level entity (only possible after a stray delimiter) is copied.
    for (let l = await ctx.lines.next(); l; l = await ctx.lines.next()) await out.write(l.buf);
    await out.flush();
    await fh.sync();
    result.bytes = out.bytes;
  } finally {
    await fh.close();
  }
  return result;
}
