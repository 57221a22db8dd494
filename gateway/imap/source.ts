// The sealcode attachments of a whole message source, for messages small enough to be
// fetched in bulk: one FETCH brings many sources, and the MIME walk happens here
// instead of asking the server for BODYSTRUCTURE and each part separately. The walk
// works on the bytes: only header blocks and our own attachments become strings.
import { decodeBody, parseHeaders, parseStructured, type HeaderField, type Part } from '../mime.js';
import { SEAL_EXTENSION, SEAL_MIME_TYPE } from './parts.js';
import { isGameMovePart } from '../../game/format.js';
import { decodeBase64Range } from './base64.js';

export interface SourcePart {
  /** IMAP-style part number, for the log */
  part: string;
  filename?: string;
  data: Buffer;
}

export interface SourceAnalysis {
  parts: SourcePart[];
  messageId?: string;
  from?: string;
}

const MAX_PARTS = 256;
const MAX_DEPTH = 20;
const LF = 0x0a;
const CR = 0x0d;

/** End of the header block and start of the body within [start, end). */
function headerEnd(buf: Buffer, start: number, end: number): { head: number; body: number } {
  if (buf[start] === LF) return { head: start, body: start + 1 };
  if (buf[start] === CR && buf[start + 1] === LF) return { head: start, body: start + 2 };
  let i = start;
  for (;;) {
    i = buf.indexOf(LF, i);
    if (i < 0 || i >= end) return { head: end, body: end };
    if (buf[i + 1] === LF) return { head: i + 1, body: i + 2 };
    if (buf[i + 1] === CR && buf[i + 2] === LF) return { head: i + 1, body: i + 3 };
    i++;
  }
}

const get = (h: HeaderField[], name: string): string | undefined => h.find((x) => x.name === name)?.value;

export function analyzeSource(buf: Buffer): SourceAnalysis {
  const parts: SourcePart[] = [];
  let seen = 0;
  let top: HeaderField[] = [];

  const walk = (start: number, end: number, num: string, depth: number): void => {
    if (++seen > MAX_PARTS) return;
    const { head, body } = headerEnd(buf, start, end);
    const headers = parseHeaders(buf.toString('latin1', start, head));
    if (depth === 0) top = headers;
    const ct = parseStructured(get(headers, 'content-type'));
    const boundary = ct.params['boundary'];
    if (ct.value.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
      const delim = Buffer.from('--' + boundary, 'latin1');
      const marks: { start: number; end: number; close: boolean }[] = [];
      for (let i = buf.indexOf(delim, body); i >= 0 && i < end; i = buf.indexOf(delim, i + delim.length)) {
        if (i !== body && buf[i - 1] !== LF) continue;
        let s = i;
        if (s > body && buf[s - 1] === LF) s--;
        if (s > body && buf[s - 1] === CR) s--;
        const nl = buf.indexOf(LF, i);
        const close = buf[i + delim.length] === 0x2d && buf[i + delim.length + 1] === 0x2d;
        marks.push({ start: s, end: nl < 0 || nl >= end ? end : nl + 1, close });
        if (close) break;
      }
      if (marks.length >= 2) {
        for (let k = 0; k + 1 < marks.length; k++) walk(marks[k]!.end, marks[k + 1]!.start, num ? `${num}.${k + 1}` : String(k + 1), depth + 1);
        return;
      }
    }
    const cd = parseStructured(get(headers, 'content-disposition'));
    const name = cd.params['filename'] ?? ct.params['name'];
    if (ct.value !== SEAL_MIME_TYPE && !(name !== undefined && name.toLowerCase().endsWith(SEAL_EXTENSION)) && !isGameMovePart(ct.value, name)) return;
    const cte = (get(headers, 'content-transfer-encoding') ?? '7bit').toLowerCase().trim();
    if (cte === 'base64') {
      parts.push({ part: num || '1', filename: name, data: decodeBase64Range(buf, body, end) });
      return;
    }
    const part: Part = { headers, headerText: '', eol: '\r\n', sep: '', body: buf.toString('latin1', body, end) };
    parts.push({ part: num || '1', filename: name, data: decodeBody(part) });
  };
  walk(0, buf.length, '', 0);
  const from = get(top, 'from');
  return {
    parts,
    messageId: get(top, 'message-id')?.trim(),
    from: from ? (/<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /[^\s<>"]+@[^\s<>"]+/.exec(from)?.[0]) : undefined,
  };
}
