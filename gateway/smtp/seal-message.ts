// Seals every attachment of a submitted message for the mapped recipients, with the
// gateway's card, keeping the rest of the message as written and recording what was
// done in an X-Sealcode header.
import type { Party, RecipientSpec } from '../../card/index.js';
import { seal } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { SEAL_EXTENSION, SEAL_MIME_TYPE } from '../imap/parts.js';
import { isGameMovePart } from '../../game/format.js';
import { base64Lines, decodeBody, header, headerParam, parseEntity, parseStructured, replaceHeaders, serialize, type Part } from '../mime.js';

export interface SealResult {
  raw: Buffer;
  sealed: { name: string; size: number }[];
}

const CONTENT_HEADERS = ['content-type', 'content-disposition', 'content-transfer-encoding'];

function attachmentName(p: Part): string | undefined {
  const cd = parseStructured(header(p, 'content-disposition'));
  const ct = parseStructured(header(p, 'content-type'));
  const name = cd.params['filename'] ?? ct.params['name'];
  if (cd.value === 'attachment') return name ?? 'attachment.bin';
  // An inline part with a file name is an attachment too (images pasted with names
  // included); bare body text is not.
  if (name && !(ct.value === 'text/plain' || ct.value === 'text/html') && !ct.value.startsWith('multipart/')) return name;
  if (name && cd.value === 'inline' && !(ct.value === 'text/plain' || ct.value === 'text/html')) return name;
  return undefined;
}

function alreadySealed(p: Part, name: string): boolean {
  const type = parseStructured(header(p, 'content-type')).value;
  return type === SEAL_MIME_TYPE || name.toLowerCase().endsWith(SEAL_EXTENSION) || isGameMovePart(type, name);
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

/** Leaves that are attachments, depth first, not descending into attached messages. */
function leaves(p: Part, out: Part[] = []): Part[] {
  if (p.children) for (const c of p.children.parts) leaves(c, out);
  else out.push(p);
  return out;
}

export async function sealAttachments(
  raw: Buffer,
  o: { sender: Party; recipients: RecipientSpec[]; describe: string; now?: number },
): Promise<SealResult> {
  const root = parseEntity(raw.toString('latin1'));
  const sealed: SealResult['sealed'] = [];
  for (const leaf of leaves(root)) {
    const name = attachmentName(leaf);
    if (name === undefined || alreadySealed(leaf, name)) continue;
    const content = decodeBody(leaf);
    const type = parseStructured(header(leaf, 'content-type')).value || 'application/octet-stream';
    const container = await collect(
      seal(once(content), {
        sender: o.sender,
        recipients: o.recipients,
        meta: { name, type, size: content.length },
        primitives: nodePrimitives,
        now: o.now,
      }),
    );
    const sealedName = name + SEAL_EXTENSION;
    const latinName = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
    replaceHeaders(leaf, CONTENT_HEADERS, [
      `Content-Type: ${SEAL_MIME_TYPE}; ${latinName(headerParam('name', sealedName))}`,
      `Content-Disposition: attachment; ${latinName(headerParam('filename', sealedName))}`,
      'Content-Transfer-Encoding: base64',
    ]);
    leaf.body = base64Lines(container, leaf.eol);
    sealed.push({ name, size: content.length });
  }
  // Clients must not be able to forge what the gateway says it did.
  const note = sealed.length
    ? `sealed ${sealed.length} attachment(s) for ${o.recipients.map((r) => `${r.kind} ${r.label}`).join(', ')} by ${o.describe}`
    : `no attachment to seal; relayed by ${o.describe}`;
  replaceHeaders(root, ['x-sealcode'], [`X-Sealcode: ${note.replace(/[\r\n]/g, ' ')}`]);
  return { raw: Buffer.from(serialize(root), 'latin1'), sealed };
}
