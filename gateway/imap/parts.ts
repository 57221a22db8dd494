// Which body parts of a message are sealcode containers, read from the server's
// BODYSTRUCTURE so that nothing is downloaded to decide. Ours are recognised by our own
// extension and MIME type only; OpenPGP's .pgp/.asc are someone else's business.
import type { MessageStructureObject } from 'imapflow';
import { isGameMovePart } from '../../game/format.js';

export const SEAL_EXTENSION = '.seal';
export const SEAL_MIME_TYPE = 'application/x-sealcode';

export interface SealPart {
  /** IMAP part specifier ("2", "1.3"); "1" for a message that is one part. */
  part: string;
  filename?: string;
  size?: number;
  /** Content-Transfer-Encoding as the server reports it */
  encoding?: string;
}

/** Guards against a hostile, absurdly deep or wide structure. */
const MAX_DEPTH = 32;
const MAX_PARTS = 256;

function filenameOf(n: MessageStructureObject): string | undefined {
  return n.dispositionParameters?.filename ?? n.parameters?.name;
}

export function isSealNode(n: MessageStructureObject): boolean {
  if (n.childNodes?.length) return false;
  if ((n.type ?? '').toLowerCase() === SEAL_MIME_TYPE) return true;
  if (isGameMovePart(n.type, filenameOf(n))) return true;
  const name = filenameOf(n);
  return typeof name === 'string' && name.toLowerCase().endsWith(SEAL_EXTENSION);
}

export function sealParts(root: MessageStructureObject | undefined): SealPart[] {
  const out: SealPart[] = [];
  if (!root) return out;
  let seen = 0;
  const walk = (n: MessageStructureObject, depth: number): void => {
    if (depth > MAX_DEPTH || ++seen > MAX_PARTS) return;
    if (n.childNodes?.length) {
      for (const c of n.childNodes) walk(c, depth + 1);
      return;
    }
    if (isSealNode(n)) out.push({ part: n.part ?? '1', filename: filenameOf(n), size: n.size, encoding: n.encoding });
  };
  walk(root, 0);
  return out;
}
