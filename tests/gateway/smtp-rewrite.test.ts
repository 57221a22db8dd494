// The submission rewrite on real files, with mail written by nodemailer's composer the
// way clients write it: every part that is not the text/HTML body comes out sealed
// (inline images with or without a name, attached messages, hostile names), the body
// and structure as written; what cannot be examined is refused; a client's
// X-Sealcode never survives.
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal, rewriteMessage, type SealFor } from '../../gateway/smtp/rewrite.js';
import { safeFileName } from '../../gateway/smtp/names.js';
import { openBytes, partyOfBuild, partyOfCard } from '../support/world.js';
import { cast, tmpDir, type Cast } from './support/fixtures.js';

let c: Cast;
let dir: string;
let forCode: SealFor;
const limits = { maxParts: 50, maxDepth: 8 };
let n = 0;

beforeAll(() => {
  c = cast();
  dir = tmpDir('sealcode-gw-rewrite-');
  forCode = { sender: partyOfCard(c.A), recipients: [{ kind: 'code', label: c.serialA }], describe: 'card X' };
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function rewrite(raw: Buffer | string, seal: SealFor | null = forCode, lim = limits): Promise<Buffer> {
  const i = ++n;
  const inFile = path.join(dir, `in-${i}`);
  const outFile = path.join(dir, `out-${i}`);
  fs.writeFileSync(inFile, raw);
  await rewriteMessage(inFile, outFile, { seal: seal ?? undefined, limits: lim, tmpDir: dir });
  // Nothing of the decoded parts is left behind.
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('part-'))).toEqual([]);
  return fs.readFileSync(outFile);
}

const compose = (o: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> =>
  new MailComposer({ from: 'Bob <bob@example.test>', to: 'dana@partner.test', subject: 's', ...o }).compile().build();

async function openAll(raw: Buffer) {
  const parsed = await simpleParser(raw);
  const opened = [];
  for (const a of parsed.attachments) {
    expect(a.contentType).toBe('application/x-sealcode');
    expect(a.filename).toMatch(/\.seal$/);
    const o = await openBytes(partyOfBuild(c.D1), a.content, c.issuer.publicKey);
    opened.push({ file: a.filename!, cid: a.cid, name: o.opened.meta.name, type: o.opened.meta.type, data: Buffer.from(o.data) });
  }
  return { parsed, opened };
}

describe('submission rewrite: nothing but the body leaves unsealed', () => {
  it('a transfer encoding followed by a comment is that encoding: the sealed file is the decoded bytes', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
    const raw =
      'From: bob@example.test\r\nTo: dana@partner.test\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: Base64 (as sent)\r\n\r\n' +
      data.toString('base64').replace(/(.{76})/g, '$1\r\n') + '\r\n--b--\r\n';
    const { opened } = await openAll(await rewrite(raw));
    expect(opened.map((o) => [o.file, o.data.equals(data)])).toEqual([['a.pdf.seal', true]]);
  });

  it('seals an inline image with only a Content-ID, a named inline image and an attached message with a PDF inside', async () => {
    const inner = await compose({ subject: 'the contract', text: 'see pdf', attachments: [{ filename: 'contract.pdf', content: Buffer.from('%PDF-1.7 secret terms') }] });
    const html = '<p>Logo: <img src="cid:logo@x"> and <img src="cid:chart@x"></p>';
    const raw = await compose({
      text: 'Plain body, stays.\n',
      html,
      attachments: [
        { cid: 'logo@x', content: Buffer.from('PNG-unnamed'), contentType: 'image/png', contentDisposition: 'inline', filename: false },
        { cid: 'chart@x', filename: 'chart.png', content: Buffer.from('PNG-named'), contentType: 'image/png', contentDisposition: 'inline' },
        { content: inner, contentType: 'message/rfc822', filename: false },
      ],
    });
    // The composer really wrote an unnamed inline image: no name on it anywhere.
    expect(raw.toString('latin1')).toMatch(/Content-Type: image\/png\r\nContent-ID: <logo@x>/);
    const out = await rewrite(raw);
    const text = out.toString('latin1');
    expect(text).not.toContain('PNG-unnamed');
    expect(text).not.toContain(Buffer.from('PNG-named').toString('base64'));
    expect(text).not.toContain('secret terms');
    expect(text).not.toContain(Buffer.from('%PDF-1.7 secret terms').toString('base64'));
    const { parsed, opened } = await openAll(out);
    expect(parsed.text).toBe('Plain body, stays.\n');
    expect(parsed.html).toBe(html);
    expect(opened.map((o) => [o.name, o.type, o.cid])).toEqual([
      ['image-1.png', 'image/png', 'logo@x'],
      ['chart.png', 'image/png', 'chart@x'],
      ['message-3.eml', 'message/rfc822', undefined],
    ]);
    expect(opened[0]!.data.toString()).toBe('PNG-unnamed');
    expect(opened[2]!.data.equals(inner)).toBe(true);
    expect(String(parsed.headers.get('x-sealcode'))).toMatch(/^non-body parts sealed for code \S+ by card X$/);
  });

  it('hostile names become plain .seal names; the content is sealed, never refused', async () => {
    const names = ['../x', '..', 'a\u0000b.pdf', 'ctl\u0007\u001b.txt', 'invoice\u202Efdp.exe', '..\\..\\win.ini', '.hidden', 'CON.txt'];
    const raw = await compose({ text: 'hi', attachments: names.map((filename, i) => ({ filename, content: Buffer.from(`file ${i}`) })) });
    const { opened } = await openAll(await rewrite(raw));
    expect(opened.map((o) => o.name)).toEqual(['x', 'part-2.bin', 'ab.pdf', 'ctl.txt', 'invoicefdp.exe', 'win.ini', 'hidden', '_CON.txt']);
    expect(opened.map((o) => o.file)).toEqual(opened.map((o) => o.name + '.seal'));
    expect(opened.map((o) => o.data.toString())).toEqual(names.map((_, i) => `file ${i}`));
    for (const o of opened) expect(safeFileName(o.name, 'z')).toBe(o.name);
  });

  it('text parts that are attachments (named, or disposition attachment) are sealed; calendar invites too', async () => {
    const raw = await compose({
      text: 'body',
      attachments: [
        { filename: 'notes.txt', content: 'private notes', contentType: 'text/plain' },
        { content: 'unnamed attachment text', contentType: 'text/plain', contentDisposition: 'attachment', filename: false },
        { content: 'BEGIN:VCALENDAR', contentType: 'text/calendar', filename: false },
      ],
    });
    const out = await rewrite(raw);
    expect(out.toString('latin1')).not.toMatch(/private notes|unnamed attachment text|BEGIN:VCALENDAR/);
    const { parsed, opened } = await openAll(out);
    expect(parsed.text).toBe('body');
    expect(opened.map((o) => o.data.toString())).toEqual(['private notes', 'unnamed attachment text', 'BEGIN:VCALENDAR']);
  });

  it('a real sealed container is kept; a file that only claims to be one is sealed', async () => {
    const real = await c.sealed('card', Buffer.from('already sealed'));
    const raw = await compose({
      text: 'body',
      attachments: [
        { filename: 'real.pdf.seal', content: Buffer.from(real), contentType: 'application/x-sealcode' },
        { filename: 'fake.seal', content: Buffer.from('SEALCODE but plain text'), contentType: 'application/x-sealcode' },
      ],
    });
    const out = await rewrite(raw);
    expect(out.toString('latin1')).not.toContain(Buffer.from('SEALCODE but plain text').toString('base64'));
    const parsed = await simpleParser(out);
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['real.pdf.seal', 'fake.seal.seal']);
    expect(Buffer.from(parsed.attachments[0]!.content).equals(Buffer.from(real))).toBe(true);
    const o = await openBytes(partyOfBuild(c.D1), parsed.attachments[1]!.content, c.issuer.publicKey);
    expect(Buffer.from(o.data).toString()).toBe('SEALCODE but plain text');
  });

  it('a part over the in-memory limit is sealed from its spool file, read by position, to the same bytes', async () => {
    const big = Buffer.from(Array.from({ length: 3 * (1 << 20) + 777 }, (_, i) => (i * 13 + (i >> 11)) & 0xff));
    const small = Buffer.from('a small one beside it');
    const raw = await compose({
      text: 'see attached',
      attachments: [
        { filename: 'big.bin', content: big, contentType: 'application/octet-stream' },
        { filename: 'small.txt', content: small, contentType: 'text/plain' },
      ],
    });
    const { opened } = await openAll(await rewrite(raw));
    expect(opened.map((o) => [o.name, o.data.length])).toEqual([['big.bin', big.length], ['small.txt', small.length]]);
    expect(opened[0]!.data.equals(big)).toBe(true);
    expect(opened[1]!.data.equals(small)).toBe(true);
  });

  it('a single-part message whose body is a file is sealed whole; its headers stay', async () => {
    const raw = 'From: b@x\r\nSubject: just a pdf\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      Buffer.from('%PDF single').toString('base64') + '\r\n';
    const { parsed, opened } = await openAll(await rewrite(raw));
    expect(parsed.subject).toBe('just a pdf');
    expect(opened.map((o) => [o.name, o.data.toString()])).toEqual([['a.pdf', '%PDF single']]);
  });

  it('a boundary longer than RFC 2046 allows still splits the parts (nothing hides in an unsplit multipart)', async () => {
    const b = 'L'.repeat(200);
    const raw = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\nContent-Type: text/plain\r\n\r\nbody\r\n--${b}\r\nContent-Type: application/pdf; name="p.pdf"\r\n\r\n%PDF secret\r\n--${b}--\r\n`;
    const out = await rewrite(raw);
    expect(out.toString('latin1')).not.toContain('%PDF secret');
    const { parsed, opened } = await openAll(out);
    expect(parsed.text).toBe('body');
    expect(opened.map((o) => [o.name, o.data.toString()])).toEqual([['p.pdf', '%PDF secret']]);
  });

  it('decodes like a tolerant reader: base64 padded mid-stream, quoted-printable soft breaks, a missing close delimiter', async () => {
    const b64 = Buffer.from('first').toString('base64') + Buffer.from('second!').toString('base64'); // "Zmlyc3Q=c2Vjb25kIQ=="
    const raw =
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n' +
      '--b\r\nContent-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + b64 + '\r\n' +
      '--b\r\nContent-Type: text/csv; name="q.csv"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db,=\r\nc\r\nd\r\n' +
      '--b\r\nContent-Type: application/zip; name="last.zip"\r\n\r\nno close delimiter follows\r\n';
    const { opened } = await openAll(await rewrite(raw));
    expect(opened.map((o) => o.data.toString())).toEqual(['firstsecond!', 'a=b,c\r\nd', 'no close delimiter follows']);
  });

  it('refuses what it cannot examine: a multipart without boundary, too deep, too many parts', async () => {
    const noBoundary = 'Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: application/pdf\r\n\r\nsecret\r\n--x--\r\n';
    await expect(rewrite(noBoundary)).rejects.toMatchObject({ code: 554, message: expect.stringMatching(/no boundary/) });
    let deep = '';
    for (let i = 0; i < 10; i++) deep += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    await expect(rewrite(deep + 'Content-Type: application/pdf\r\n\r\nsecret\r\n')).rejects.toMatchObject({ code: 554, message: expect.stringMatching(/deeper than 8/) });
    const many = await compose({ text: 'x', attachments: Array.from({ length: 60 }, (_, i) => ({ filename: `f${i}.txt`, content: 'x' })) });
    const e = await rewrite(many).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Refusal);
    expect(e).toMatchObject({ code: 552, message: expect.stringMatching(/more than 50 MIME parts/) });
    const neverOccurs = 'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n--other\r\nContent-Type: application/pdf\r\n\r\nsecret\r\n--other--\r\n';
    await expect(rewrite(neverOccurs)).rejects.toMatchObject({ code: 554, message: expect.stringMatching(/boundary never occurs/) });
    const twoTypes = 'Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/pdf\r\n\r\nsecret\r\n--b--\r\n';
    await expect(rewrite(twoTypes)).rejects.toMatchObject({ code: 554, message: expect.stringMatching(/more than one content-type/) });
    // Without a mapped recipient nothing is examined, so nothing is refused.
    expect((await rewrite(noBoundary, null)).toString()).toBe(noBoundary);
  });

  it('without a mapped recipient: byte for byte, except that a client X-Sealcode is dropped', async () => {
    const raw = await compose({ text: 'x', headers: { 'X-Sealcode': 'sealed 99 attachment(s)' }, attachments: [{ filename: 'a.pdf', content: 'plain' }] });
    const out = await rewrite(raw, null);
    expect(out.toString('latin1')).toBe(raw.toString('latin1').replace(/X-Sealcode: [^\r]*\r\n/, ''));
    const sealed = (await rewrite(raw)).toString('latin1');
    expect(sealed).not.toContain('sealed 99');
    expect(sealed.match(/X-Sealcode:/g)).toHaveLength(1);
  });
});
