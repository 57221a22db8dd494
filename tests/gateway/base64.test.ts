// The piecewise base64 decoder must give exactly what decoding the whole range gives,
// for regular bodies and for every irregular one (odd line lengths, stray bytes,
// padding in the middle, no line breaks), since a certified verdict depends on it.
import { expect, it } from 'vitest';
import { decodeBase64Range } from '../../gateway/imap/base64.js';

const lines = (b64: string, width: number, eol: string): string => (b64.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join(eol) + eol;

function rnd(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32);
}

it('decodes like the whole-string decoder, regular and irregular bodies', () => {
  const r = rnd(7);
  let cases = 0;
  for (let n = 0; n < 300; n++) {
    const data = Buffer.from(Array.from({ length: Math.floor(r() * 4000) }, () => Math.floor(r() * 256)));
    const b64 = data.toString('base64');
    const width = [76, 76, 72, 64, 75, 77, 1e9][n % 7]!;
    let body = lines(b64, width, n % 2 ? '\r\n' : '\n');
    // Irregularities: a stray byte, padding in the middle, trailing blanks, bare CR.
    const kind = n % 5;
    const at = Math.floor(r() * body.length);
    if (kind === 1) body = body.slice(0, at) + '!' + body.slice(at);
    if (kind === 2) body = body.slice(0, at) + '=' + body.slice(at);
    if (kind === 3) body = body.replace(/\n/g, ' \n');
    if (kind === 4) body = body.slice(0, at) + '\r' + body.slice(at);
    const prefix = 'Content-Type: application/x-sealcode\r\n\r\n';
    const buf = Buffer.from(prefix + body + '--tail', 'latin1');
    const start = prefix.length;
    const end = start + body.length;
    const expected = Buffer.from(buf.toString('latin1', start, end), 'base64');
    for (const piece of [16, 100, 333, 4096]) expect(decodeBase64Range(buf, start, end, piece).equals(expected)).toBe(true);
    if (kind === 0) expect(decodeBase64Range(buf, start, end, 100).equals(data)).toBe(true);
    cases++;
  }
  expect(cases).toBe(300);
  // A body larger than the default piece, as a real 100 KB attachment is.
  const big = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff));
  const body = Buffer.from(lines(big.toString('base64'), 76, '\r\n'), 'latin1');
  expect(decodeBase64Range(body, 0, body.length).equals(big)).toBe(true);
});
