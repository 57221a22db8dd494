// A small MIME walker for rewriting submitted mail: it finds attachment leaves and
// replaces only them, so every other byte of the message (headers, body text, the
// multipart structure, preamble and epilogue) is relayed as the client wrote it.
// Strings here are latin1, one character per byte, so slicing never breaks bytes.

export interface HeaderField {
  /** lower-case name */
  name: string;
  /** unfolded value */
  value: string;
  /** the raw lines, folding included, without the final line break */
  raw: string;
}

export interface Part {
  headers: HeaderField[];
  /** raw header block as written (no trailing blank line) */
  headerText: string;
  /** the line break style of this entity */
  eol: string;
  /** exactly what separated the header block from the body */
  sep: string;
  body: string;
  /** delimiters[i] precedes parts[i]; the last one closes (or ends) the multipart */
  children?: { preamble: string; parts: Part[]; delimiters: string[]; epilogue: string };
}

const MAX_DEPTH = 20;

export function splitHeaderBody(s: string): { head: string; sep: string; body: string } {
  const m = /\r?\n\r?\n/.exec(s);
  // A header-only entity, or one whose header block starts empty.
  if (s.startsWith('\r\n')) return { head: '', sep: '\r\n', body: s.slice(2) };
  if (s.startsWith('\n')) return { head: '', sep: '\n', body: s.slice(1) };
  if (!m) {
    const head = s.replace(/\r?\n$/, '');
    return { head, sep: s.slice(head.length), body: '' };
  }
  return { head: s.slice(0, m.index), sep: m[0], body: s.slice(m.index + m[0].length) };
}

export function parseHeaders(head: string): HeaderField[] {
  const out: HeaderField[] = [];
  if (!head) return out;
  for (const line of head.split(/(?<=\n)/)) {
    const trimmed = line.replace(/\r?\n$/, '');
    if (/^[ \t]/.test(trimmed) && out.length) {
      const h = out[out.length - 1]!;
      h.raw += line;
      h.value += ' ' + trimmed.trim();
      continue;
    }
    const i = trimmed.indexOf(':');
    // A line that is not a header is kept, nameless, so nothing is lost.
    const name = i > 0 ? trimmed.slice(0, i).trim().toLowerCase() : '';
    out.push({ name, value: i > 0 ? trimmed.slice(i + 1).trim() : trimmed, raw: line });
  }
  for (const h of out) h.raw = h.raw.replace(/\r?\n$/, '');
  return out;
}

export const header = (p: Part, name: string): string | undefined => p.headers.find((h) => h.name === name)?.value;

/**
 * `type/subtype; a=b; c="d"` → value and lower-case params, RFC 2231 and encoded-words
 * decoded. Read the way mailparser (libmime) reads it: an RFC 822 comment is dropped
 * unless it continues a token (`boundary=b (note)` is `b`, `name=Invoice(1).pdf` keeps
 * its brackets), whitespace outside quotes is not part of a value, and a parameter
 * given twice keeps its first value.
 */
export function parseStructured(v: string | undefined): { value: string; params: Record<string, string> } {
  if (!v) return { value: '', params: {} };
  const raw = splitParams(v);
  const params: Record<string, string> = {};
  const continued: Record<string, { i: number; v: string; enc: boolean }[]> = {};
  for (const [rawKey, val] of raw.params) {
    const c = /^(.+?)\*(\d+)?(\*)?$/.exec(rawKey);
    if (c) {
      const key = c[1]!;
      (continued[key] ??= []).push({ i: Number(c[2] ?? 0), v: val, enc: c[3] === '*' || (c[2] === undefined && key + '*' === rawKey) });
      continue;
    }
    if (!Object.hasOwn(params, rawKey)) params[rawKey] = decodeWords(val);
  }
  for (const [key, pieces] of Object.entries(continued)) {
    pieces.sort((a, b) => a.i - b.i);
    let charset = 'utf-8';
    const bytes: number[] = [];
    pieces.forEach((p, idx) => {
      let s = p.v;
      if (p.enc && idx === 0) {
        const q = /^([^']*)'[^']*'(.*)$/.exec(s);
        if (q) {
          charset = q[1] || charset;
          s = q[2]!;
        }
      }
      if (p.enc) for (const b of Buffer.from(decodeURIComponentBytes(s))) bytes.push(b);
      else for (const b of Buffer.from(s, 'latin1')) bytes.push(b);
    });
    params[key] = decodeCharset(Buffer.from(bytes), charset);
  }
  return { value: raw.value.toLowerCase(), params };
}

/** The end of the comment opened at `i` (nesting and escapes honoured), or -1. */
function commentEnd(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === '(') depth++;
    else if (s[j] === ')' && --depth === 0) return j;
  }
  return -1;
}

function splitParams(v: string): { value: string; params: [string, string][] } {
  const params: [string, string][] = [];
  let value = '';
  let key: string | undefined;
  let inKey = false;
  let cur = '';
  let curEnd = 0;
  let quote = false;
  let tokenOpen = false;
  const commit = (): void => {
    const collected = cur.slice(0, curEnd);
    if (!inKey && key === undefined) value = collected;
    else if (!inKey && key !== undefined) params.push([key, collected]);
    cur = '';
    curEnd = 0;
  };
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (quote) {
      if (ch === '\\' && i + 1 < v.length) cur += v[++i];
      else if (ch === '"') {
        quote = false;
        tokenOpen = false;
      } else cur += ch;
      curEnd = cur.length;
      continue;
    }
    if (ch === '(' && !tokenOpen) {
      let end = commentEnd(v, i);
      // An unclosed comment runs to the end, unless a parameter follows it.
      if (end < 0 && v.indexOf(';', i) < 0) end = v.length - 1;
      if (end >= 0) {
        i = end;
        continue;
      }
    }
    if (ch === ';') {
      commit();
      key = undefined;
      inKey = true;
      tokenOpen = false;
    } else if (ch === '=' && inKey) {
      key = cur.slice(0, curEnd).trim().toLowerCase();
      cur = '';
      curEnd = 0;
      inKey = false;
      tokenOpen = true;
    } else if (ch === '"' && !inKey && key !== undefined && curEnd === 0) {
      quote = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') {
      if (curEnd > 0) cur += ch;
      tokenOpen = false;
    } else {
      cur += ch;
      curEnd = cur.length;
      tokenOpen = !inKey && key !== undefined;
    }
  }
  commit();
  return { value, params };
}

function decodeURIComponentBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i) & 0xff);
  }
  return Uint8Array.from(out);
}

function decodeCharset(b: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase()).decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** RFC 2047 encoded-words in a header value (the value itself is latin1 bytes). */
export function decodeWords(s: string): string {
  const decoded = s.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(\s+(?==\?))?/g, (_all, cs: string, enc: string, text: string) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(decodeURIComponentBytes(text.replace(/_/g, ' ').replace(/=([0-9a-fA-F]{2})/g, '%$1')));
    return decodeCharset(bytes, cs.split('*')[0]!);
  });
  // Raw 8-bit header bytes are taken as UTF-8 (what clients send today).
  return /[\x80-\xff]/.test(decoded) && !/=\?/.test(s) ? decodeCharset(Buffer.from(decoded, 'latin1'), 'utf-8') : decoded;
}

export function parseEntity(s: string, depth = 0): Part {
  const { head, sep, body } = splitHeaderBody(s);
  const eol = sep.startsWith('\r\n') || head.includes('\r\n') ? '\r\n' : '\n';
  const part: Part = { headers: parseHeaders(head), headerText: head, eol, sep, body };
  const ct = parseStructured(header(part, 'content-type'));
  const boundary = ct.params['boundary'];
  if (ct.value.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    const split = splitMultipart(body, boundary);
    if (split) part.children = { ...split, parts: split.parts.map((p) => parseEntity(p, depth + 1)) };
  }
  return part;
}

function splitMultipart(body: string, boundary: string): { preamble: string; parts: string[]; delimiters: string[]; epilogue: string } | null {
  const delim = '--' + boundary;
  // Delimiter lines: at the start of the body or after a line break.
  const positions: { start: number; end: number; close: boolean }[] = [];
  let from = 0;
  for (;;) {
    const i = body.indexOf(delim, from);
    if (i < 0) break;
    const atLineStart = i === 0 || body[i - 1] === '\n';
    const after = body.slice(i + delim.length, i + delim.length + 2);
    if (atLineStart) {
      const close = after === '--';
      let lineEnd = body.indexOf('\n', i);
      lineEnd = lineEnd < 0 ? body.length : lineEnd + 1;
      // the line break before the delimiter belongs to the delimiter
      let start = i;
      if (start > 0 && body[start - 1] === '\n') start--;
      if (start > 0 && body[start - 1] === '\r') start--;
      positions.push({ start, end: lineEnd, close });
      if (close) break;
    }
    from = i + delim.length;
  }
  if (positions.length < 2) return null;
  const parts: string[] = [];
  for (let k = 0; k + 1 < positions.length; k++) parts.push(body.slice(positions[k]!.end, positions[k + 1]!.start));
  const last = positions[positions.length - 1]!;
  return {
    preamble: body.slice(0, positions[0]!.start),
    parts,
    delimiters: positions.map((q) => body.slice(q.start, q.end)),
    epilogue: body.slice(last.end),
  };
}

/** Writes a part tree back; untouched parts come out byte for byte. */
export function serialize(p: Part): string {
  let s = p.headerText + p.sep;
  if (!p.children) return s + p.body;
  const c = p.children;
  s += c.preamble;
  c.parts.forEach((child, i) => (s += c.delimiters[i]! + serialize(child)));
  return s + c.delimiters[c.delimiters.length - 1]! + c.epilogue;
}

export function decodeBody(p: Part): Buffer {
  const cte = (header(p, 'content-transfer-encoding') ?? '7bit').toLowerCase().trim();
  // Node's decoder skips line breaks and other non-alphabet bytes by itself.
  if (cte === 'base64') return Buffer.from(p.body, 'base64');
  if (cte === 'quoted-printable') {
    const soft = p.body.replace(/=\r?\n/g, '');
    return Buffer.from(decodeURIComponentBytes(soft.replace(/%/g, '%25').replace(/=([0-9a-fA-F]{2})/g, '%$1')));
  }
  return Buffer.from(p.body, 'latin1');
}

export function base64Lines(b: Uint8Array, eol: string): string {
  const s = Buffer.from(b).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return lines.join(eol) + eol;
}

/** A parameter value safe in a header: quoted ASCII, or RFC 2231 for anything else. */
export function headerParam(key: string, value: string): string {
  if (/^[\x20-\x7e]*$/.test(value) && !/["\\]/.test(value)) return `${key}="${value}"`;
  const enc = Array.from(Buffer.from(value, 'utf8'), (b) =>
    /[A-Za-z0-9!#$&+\-.^_`|~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0'),
  ).join('');
  return `${key}*=utf-8''${enc}`;
}

/** Rebuilds a part's header block: drops the named fields, appends new lines. */
export function replaceHeaders(p: Part, drop: string[], add: string[]): void {
  const keep = p.headers.filter((h) => !drop.includes(h.name));
  const lines = keep.map((h) => h.raw.replace(/\r?\n/g, p.eol)).concat(add);
  p.headers = parseHeaders(lines.join(p.eol));
  p.headerText = lines.join(p.eol);
  // A header block must end in an empty line before the body.
  if (!/\n\r?\n$/.test(p.headerText + p.sep)) p.sep = p.eol + p.eol;
}
