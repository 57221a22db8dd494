// How a sealcode attachment is recognised, on both sides of the gateway: by our own
// extension or MIME type only; OpenPGP's .pgp/.asc are someone else's business.
import { isGameMovePart } from '../../game/format.js';

export const SEAL_EXTENSION = '.seal';
export const SEAL_MIME_TYPE = 'application/x-sealcode';

/** Whether a part of this MIME type and file name is ours: a container or a game move file. */
export const isSealPart = (type: string | undefined, filename: string | undefined): boolean =>
  type === SEAL_MIME_TYPE || (filename !== undefined && filename.toLowerCase().endsWith(SEAL_EXTENSION)) || isGameMovePart(type, filename);
