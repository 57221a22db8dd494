// The MIME walker: messages come back byte for byte, file names are decoded, hostile
// input never throws. (The submission rewrite has its own tests: smtp-rewrite.test.ts.)
import { describe, expect, it } from 'vitest';
import { parseEntity, parseStructured, serialize } from '../../gateway/mime.js';
import { analyzeSource } from '../../gateway/imap/source.js';
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

  it('finds sealcode parts in fetched sources: nested, LF-only, single-part, by type or by name', () => {
    const b64 = Buffer.from('SEALCODE-bytes').toString('base64');
    const nested = Buffer.from(
      'From: "Bob" <bob@example.test>\r\nMessage-ID: <m1@x>\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\n' +
        'Content-Type: multipart/alternative; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nhi\r\n--i--\r\n' +
        '--o\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="x.pdf.SEAL"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        b64 + '\r\n--o\r\nContent-Type: application/pgp-encrypted; name="y.pgp"\r\n\r\nnot ours\r\n--o--\r\n',
    );
    const a = analyzeSource(nested);
    expect(a.parts.map((p) => [p.part, p.filename, p.data.toString()])).toEqual([['2', 'x.pdf.SEAL', 'SEALCODE-bytes']]);
    expect(a).toMatchObject({ messageId: '<m1@x>', from: 'bob@example.test' });
    const lf = Buffer.from('From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: application/x-sealcode\nContent-Transfer-Encoding: base64\n\n' + b64 + '\n--z--\n');
    expect(analyzeSource(lf).parts.map((p) => p.data.toString())).toEqual(['SEALCODE-bytes']);
    const single = Buffer.from('From: a@b\r\nContent-Type: application/x-sealcode\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64);
    expect(analyzeSource(single).parts.map((p) => [p.part, p.data.toString()])).toEqual([['1', 'SEALCODE-bytes']]);
    for (const junk of ['', '\r\n', 'no headers at all', 'Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n']) expect(analyzeSource(Buffer.from(junk)).parts).toEqual([]);
  });
});
