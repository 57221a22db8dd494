// The sealcode attachments of a whole message source, for messages small enough to be
// fetched in bulk: one FETCH brings many sources, and the MIME walk happens here
// instead of asking the server for BODYSTRUCTURE and each part separately.
import { decodeBody, header, parseEntity, parseHeaders, parseStructured, type Part } from '../mime.js';
import { SEAL_EXTENSION, SEAL_MIME_TYPE } from './parts.js';

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

function filenameOf(p: Part): string | undefined {
  return parseStructured(header(p, 'content-disposition')).params['filename'] ?? parseStructured(header(p, 'content-type')).params['name'];
}

export function analyzeSource(source: Buffer): SourceAnalysis {
  const root = parseEntity(source.toString('latin1'));
  const parts: SourcePart[] = [];
  let seen = 0;
  const walk = (p: Part, num: string): void => {
    if (++seen > MAX_PARTS) return;
    if (p.children) {
      p.children.parts.forEach((c, i) => walk(c, num ? `${num}.${i + 1}` : String(i + 1)));
      return;
    }
    const type = parseStructured(header(p, 'content-type')).value;
    const name = filenameOf(p);
    if (type === SEAL_MIME_TYPE || (name !== undefined && name.toLowerCase().endsWith(SEAL_EXTENSION)))
      parts.push({ part: num || '1', filename: name, data: decodeBody(p) });
  };
  walk(root, '');
  const top = parseHeaders(root.headerText);
  const get = (n: string): string | undefined => top.find((h) => h.name === n)?.value;
  const from = get('from');
  return {
    parts,
    messageId: get('message-id')?.trim(),
    from: from ? (/<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /[^\s<>"]+@[^\s<>"]+/.exec(from)?.[0]) : undefined,
  };
}
