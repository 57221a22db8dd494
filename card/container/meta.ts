// The first bytes of the payload plaintext (docs/FORMAT.md §7): name, type and size
// travel encrypted so that the header leaks none of them.
import { Reader, Writer } from '../bytes.js';
import { SealError, malformed } from '../errors.js';

export interface FileMeta {
  name: string;
  type: string;
  size: number;
}

export const MAX_META = 4096;

const unsafeName = (name: string): boolean => !name || /[/\\\0]/.test(name) || name === '.' || name === '..';

export function encodeMeta(m: FileMeta): Uint8Array {
  // Refuse here what every receiver would refuse: a sealed file nobody can open.
  if (unsafeName(m.name)) throw new SealError('USAGE', 'the file name must be a plain name (no folders)');
  if (!Number.isSafeInteger(m.size) || m.size < 0) throw new SealError('USAGE', 'the file size must be a whole number of bytes');
  const body = new Writer().str(m.name).str(m.type).u64(m.size).done();
  if (body.length > MAX_META) throw new SealError('USAGE', 'file name or type too long');
  return new Writer().u16(body.length).raw(body).done();
}

export function decodeMeta(body: Uint8Array): FileMeta {
  const r = new Reader(body);
  const m = { name: r.str(), type: r.str(), size: r.u64() };
  r.end();
  if (unsafeName(m.name)) throw malformed('unsafe file name in payload');
  return m;
}

/** The metadata block at the start of `b` and its length, or null while `b` is too short to hold it. */
export function parseMetaBlock(b: Uint8Array): { meta: FileMeta; used: number } | null {
  if (b.length < 2) return null;
  const need = 2 + new Reader(b.subarray(0, 2)).u16();
  if (need - 2 > MAX_META) throw malformed('metadata block too large');
  if (b.length < need) return null;
  return { meta: decodeMeta(b.subarray(2, need)), used: need };
}
