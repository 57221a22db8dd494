// The first bytes of the payload plaintext (docs/FORMAT.md §5.3): name, type and size
// travel encrypted so that the header leaks none of them.
import { Reader, Writer } from '../bytes.js';
import { malformed } from '../errors.js';

export interface FileMeta {
  name: string;
  type: string;
  size: number;
}

export const MAX_META = 4096;

export function encodeMeta(m: FileMeta): Uint8Array {
  const body = new Writer().str(m.name).str(m.type).u64(m.size).done();
  if (body.length > MAX_META) throw malformed('file name or type too long');
  return new Writer().u16(body.length).raw(body).done();
}

export function decodeMeta(body: Uint8Array): FileMeta {
  const r = new Reader(body);
  const m = { name: r.str(), type: r.str(), size: r.u64() };
  r.end();
  if (!m.name || /[/\\\0]/.test(m.name) || m.name === '.' || m.name === '..') throw malformed('unsafe file name in payload');
  return m;
}
