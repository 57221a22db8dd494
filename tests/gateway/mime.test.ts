// The MIME walker: messages come back byte for byte, file names are decoded, hostile
// input never throws. (The submission rewrite has its own tests: smtp-rewrite.test.ts.)
import { describe, expect, it } from 'vitest';
import { parseEntity, parseStructured, serialize } from '../../gateway/mime.js';
import { compose } from './support/fixtures.js';

const latin = (b: Buffer): string => b.toString('latin1');

describe('MIME walker', () => {
  it('round-trips messages byte for byte', async () => {
    const samples = [
      await compose({ subject: 'one', attachments: [{ filename: 'a.txt', content: Buffer.from('hello') }] }),
      Buffer.from('Subject: no mime\n\nbare LF body\n'),
      Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\npreamble\r\n--x\r\n\r\nnothing\r\n--x\r\nContent-Type: text/plain\r\n\r\nb\r\n--x--\r\nepilogue'),
      Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nnever closed'),
      Buffer.from('X-Folded: a\r\n  b\r\nContent-Type: text/plain\r\n\r\n'),
    ];
    for (const s of samples) expect(serialize(parseEntity(latin(s)))).toBe(latin(s));
  });

  it('decodes RFC 2231 and encoded-word file names', () => {
    expect(parseStructured(`attachment; filename*=utf-8''%C3%BCber.pdf`).params.filename).toBe('über.pdf');
    expect(parseStructured('attachment; filename="=?UTF-8?B?w7xiZXIucGRm?="').params.filename).toBe('über.pdf');
    expect(parseStructured(`attachment; filename*0*=utf-8''a%C3%BC; filename*1="b.txt"`).params.filename).toBe('aüb.txt');
  });

  it('never throws on hostile structure', () => {
    const deep = 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'.repeat(200) + 'x';
    const bomb = Array.from({ length: 20000 }, (_, i) => `X-H${i}: v`).join('\r\n') + '\r\n\r\nbody';
    for (const s of [deep, bomb, '', '\r\n', ':::\r\n\r\n', 'Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n']) {
      expect(serialize(parseEntity(s))).toBe(s);
    }
  });
});
