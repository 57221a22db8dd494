// The submission-side MIME rewrite: only attachment leaves change; everything else,
// including odd structure, comes back byte for byte; hostile input never throws.
import { describe, expect, it } from 'vitest';
import { parseEntity, parseStructured, serialize } from '../../gateway/mime.js';
import { sealAttachments } from '../../gateway/smtp/seal-message.js';
import { openBytes, partyOfBuild, partyOfCard } from '../support/world.js';
import { cast, compose } from './support/fixtures.js';

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

  it('seals only the attachments and keeps the body, with a non-ASCII name', async () => {
    const c = cast();
    const raw = await compose({
      subject: 'keep me',
      text: 'Body stays exactly as it is.',
      attachments: [
        { filename: 'über.txt', content: Buffer.from('attachment one') },
        { filename: 'already.seal', content: Buffer.from('not touched') },
      ],
    });
    const out = await sealAttachments(raw, { sender: partyOfCard(c.A), recipients: [{ kind: 'code', label: c.serialA }], describe: 'card X' });
    expect(out.sealed).toEqual([{ name: 'über.txt', size: 14 }]);
    const text = latin(out.raw);
    expect(text).toContain('Body stays exactly as it is.');
    expect(text).toContain("filename*=utf-8''%C3%BCber.txt.seal");
    expect(text).toContain('X-Sealcode: sealed 1 attachment(s) for code ');
    const root = parseEntity(text);
    const sealedPart = root.children!.parts[1]!;
    const container = Buffer.from(sealedPart.body.replace(/\s/g, ''), 'base64');
    const { data, opened } = await openBytes(partyOfBuild(c.D1), container, c.issuer.publicKey);
    expect(Buffer.from(data).toString()).toBe('attachment one');
    expect(opened.meta.name).toBe('über.txt');
  });

  it('strips a client-forged X-Sealcode header', async () => {
    const c = cast();
    const raw = await compose({ subject: 's', headers: { 'X-Sealcode': 'sealed 99 attachment(s)' } });
    const out = latin((await sealAttachments(raw, { sender: partyOfCard(c.A), recipients: [{ kind: 'code', label: c.serialA }], describe: 'card X' })).raw);
    expect(out).not.toContain('sealed 99');
    expect(out.match(/X-Sealcode:/g)).toHaveLength(1);
  });

  it('never throws on hostile structure', () => {
    const deep = 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'.repeat(200) + 'x';
    const bomb = Array.from({ length: 20000 }, (_, i) => `X-H${i}: v`).join('\r\n') + '\r\n\r\nbody';
    for (const s of [deep, bomb, '', '\r\n', ':::\r\n\r\n', 'Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n']) {
      expect(serialize(parseEntity(s))).toBe(s);
    }
  });
});
