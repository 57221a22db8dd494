// The SMTP side, in process, against a real smtp-server upstream sink: attachments for
// mapped recipients are sealed with the gateway's card and open with the dedicated
// profile, the body is intact; AUTH and STARTTLS are enforced; with the upstream down
// the client is told "queued" only once the message is on disk, and it is delivered
// exactly once when the upstream returns.
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../support/ports.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { openBytes, partyOfBuild } from '../support/world.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { cast, tmpDir, waitUntil, writeCardFile, type Cast } from './support/fixtures.js';
import { Dialogue } from './support/smtp-dialogue.js';

let c: Cast;
let sink: SmtpSink | undefined;
let sinkPort: number;
let gw: Gateway;
let dataDir: string;
const CARD_PASS = 'card passphrase for the gateway';

function submitter(o: { user?: string; pass?: string; ignoreTLS?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: gw.smtp!.port,
    secure: false,
    requireTLS: !o.ignoreTLS,
    ignoreTLS: o.ignoreTLS,
    auth: o.user === undefined && o.pass === undefined ? { user: 'bob', pass: 'submit-secret' } : o.user ? { user: o.user, pass: o.pass ?? '' } : undefined,
    // The gateway's own generated certificate.
    tls: { rejectUnauthorized: false },
  });
}

const att1 = Buffer.from('%PDF-1.4 pretend pdf\n' + 'x'.repeat(70_000));
const att2 = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
const body = 'Dear Dana,\n\nplease find two files attached. Ünïcödé stays intact.\n\n-- \nBob\n';

beforeAll(async () => {
  c = cast();
  dataDir = tmpDir('sealcode-gw-smtp-');
  sinkPort = await getFreePort();
  sink = await startSmtpSink({ port: sinkPort });
  const cardFile = await writeCardFile(c, dataDir, CARD_PASS);
  process.env.GW_TEST_CARD_PASS = CARD_PASS;
  const cfg = {
    issuerPublicKey: c.issuerPubB64,
    dataDir,
    log: { level: 'silent' },
    admin: { port: 0 },
    smtp: {
      listen: { host: '127.0.0.1', port: await getFreePort() },
      users: [{ user: 'bob', password: 'submit-secret' }],
      upstream: { host: '127.0.0.1', port: sinkPort },
      card: { file: cardFile, passphrase: { env: 'GW_TEST_CARD_PASS' } },
      mappings: [{ match: '@partner.test', label: c.serialA }],
      retry: { firstSeconds: 0.2, maxSeconds: 0.5, giveUpHours: 1 },
      maxRecipients: 5,
    },
  };
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file));
});

afterAll(async () => {
  await gw?.stop();
  await sink?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('gateway SMTP submission (real smtp-server upstream)', () => {
  it('seals both attachments for a mapped recipient; the dedicated profile opens them; body intact', async () => {
    const info = await submitter().sendMail({
      from: 'bob@example.test',
      to: 'dana@partner.test',
      subject: 'two files',
      text: body,
      attachments: [
        { filename: 'report.pdf', content: att1, contentType: 'application/pdf' },
        { filename: 'data.bin', content: att2 },
      ],
    });
    expect(info.response).toMatch(/^250 .*Queued as/);
    const [msg] = await sink!.waitFor(1, 20_000);
    const parsed = await simpleParser(msg!.raw);
    expect(parsed.text?.replace(/\r\n/g, '\n')).toBe(body);
    expect(parsed.subject).toBe('two files');
    expect(String(parsed.headers.get('x-sealcode'))).toMatch(/^non-body parts sealed for code \S+ by card /);
    expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['report.pdf.seal', 'application/x-sealcode'],
      ['data.bin.seal', 'application/x-sealcode'],
    ]);
    const receiver = partyOfBuild(c.D1);
    const one = await openBytes(receiver, parsed.attachments[0]!.content, c.issuer.publicKey);
    const two = await openBytes(receiver, parsed.attachments[1]!.content, c.issuer.publicKey);
    expect(one.opened.verdict.certified).toBe(true);
    expect(one.opened.meta).toMatchObject({ name: 'report.pdf', type: 'application/pdf', size: att1.length });
    expect(Buffer.from(one.data).equals(att1)).toBe(true);
    expect(two.opened.meta.name).toBe('data.bin');
    expect(Buffer.from(two.data).equals(att2)).toBe(true);
    expect(msg!.envelope.rcptTo).toEqual(['dana@partner.test']);
    sink!.clear();
  });

  it('requires AUTH, the right password and STARTTLS', async () => {
    const mail = { from: 'bob@example.test', to: 'dana@partner.test', subject: 'x', text: 'x' };
    await expect(submitter({ user: 'bob', pass: 'wrong' }).sendMail(mail)).rejects.toThrow(/Invalid username or password|535/);
    await expect(submitter({ user: '' }).sendMail(mail)).rejects.toThrow(/authentication Required|530/i);
    await expect(submitter({ ignoreTLS: true }).sendMail(mail)).rejects.toThrow(/STARTTLS|538|530/i);
    expect(sink!.messages).toHaveLength(0);
  });

  it('AUTH is not offered before STARTTLS on a listener without plaintext allowed; after STARTTLS it is', async () => {
    const { d, greeting } = await Dialogue.open(gw.smtp!.port);
    expect(greeting.code).toBe(220);
    const before = await d.cmd('EHLO client.test');
    expect(before.lines).toContain('STARTTLS');
    expect(before.lines.filter((l) => l.startsWith('AUTH'))).toEqual([]);
    // A client that sends it anyway is refused without its password being looked at.
    expect((await d.auth('bob', 'submit-secret')).code).toBeGreaterThanOrEqual(500);
    await d.starttls();
    const after = await d.cmd('EHLO client.test');
    expect(after.lines).toContain('AUTH PLAIN LOGIN');
    expect((await d.auth('bob', 'submit-secret')).code).toBe(235);
    d.close();
  });

  it('recipients per message are capped (452 past the limit); the accepted ones get the message', async () => {
    const to = Array.from({ length: 8 }, (_, i) => `r${i}@elsewhere.test`);
    const info = await submitter().sendMail({ from: 'bob@example.test', to, subject: 'many', text: 'x' });
    expect(info.accepted).toEqual(to.slice(0, 5));
    expect(info.rejected).toEqual(to.slice(5));
    expect(String(info.rejectedErrors?.[0]?.message)).toMatch(/452.*Too many recipients/);
    const [msg] = await sink!.waitFor(1, 20_000);
    expect(msg!.envelope.rcptTo).toEqual(to.slice(0, 5));
    sink!.clear();
  });

  it('an unnamed inline image (Content-ID only) and an attached message go out sealed; hostile names get safe .seal names, never a 4xx', async () => {
    const inner = Buffer.from('Subject: fwd\r\nContent-Type: application/pdf; name="in.pdf"\r\n\r\n%PDF inner secret\r\n');
    const info = await submitter().sendMail({
      from: 'bob@example.test',
      to: 'dana@partner.test',
      subject: 'inline',
      html: '<p><img src="cid:pic@x"></p>',
      headers: { 'X-Sealcode': 'forged by the client' },
      attachments: [
        { cid: 'pic@x', content: Buffer.from('PNG secret pixels'), contentType: 'image/png', contentDisposition: 'inline', filename: false },
        { content: inner, contentType: 'message/rfc822', filename: false },
        { filename: '../x', content: Buffer.from('dotdot') },
        { filename: 'a\u0000b\u202Egpj.exe', content: Buffer.from('nul and bidi') },
      ],
    });
    expect(info.response).toMatch(/^250 /);
    const [msg] = await sink!.waitFor(1, 20_000);
    const text = msg!.raw.toString('latin1');
    expect(text).not.toMatch(/secret pixels|inner secret|forged by the client/);
    const parsed = await simpleParser(msg!.raw);
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['image-1.png.seal', 'message-2.eml.seal', 'x.seal', 'abgpj.exe.seal']);
    const receiver = partyOfBuild(c.D1);
    const img = await openBytes(receiver, parsed.attachments[0]!.content, c.issuer.publicKey);
    expect(Buffer.from(img.data).toString()).toBe('PNG secret pixels');
    const fwd = await openBytes(receiver, parsed.attachments[1]!.content, c.issuer.publicKey);
    expect(Buffer.from(fwd.data).equals(inner)).toBe(true);
    sink!.clear();
  });

  it('a client X-Sealcode is removed from mail to unmapped recipients too', async () => {
    await submitter().sendMail({ from: 'bob@example.test', to: 'eve@elsewhere.test', subject: 'plain', text: 'x', headers: { 'X-Sealcode': 'sealed 3 attachment(s)' } });
    const [msg] = await sink!.waitFor(1, 20_000);
    expect(msg!.raw.toString()).toContain('Subject: plain');
    expect(msg!.raw.toString()).not.toMatch(/X-Sealcode/i);
    sink!.clear();
  });

  it('upstream down: "queued" only once on disk; delivered exactly once when it is back', async () => {
    await sink!.stop();
    sink = undefined;
    const info = await submitter().sendMail({ from: 'bob@example.test', to: 'eve@elsewhere.test', subject: 'while down', text: 'queued' });
    const id = /Queued as (\S+)/.exec(info.response)![1]!;
    // At the moment the client was told, the message is journalled and its file is on disk.
    const row = gw.state.outbox(id)!;
    expect(row.state).toBe('queued');
    expect(fs.readFileSync(row.file, 'utf8')).toContain('Subject: while down');
    await waitUntil(() => (gw.state.outbox(id)?.attempts ?? 0) >= 2, 20_000, 'retries');
    const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/sealcode_gateway_queue_depth 1/);
    expect(metrics).toMatch(/sealcode_gateway_smtp_deferred_total \d+/);

    sink = await startSmtpSink({ port: sinkPort });
    const [msg] = await sink.waitFor(1, 20_000);
    expect(msg!.raw.toString()).toContain('Subject: while down');
    await waitUntil(() => gw.state.outbox(id)?.state === 'delivered', 10_000, 'delivered');
    await waitUntil(() => !fs.existsSync(row.file), 10_000, 'the queue file removed');
    // Unmapped recipient: relayed as written, nothing sealed.
    expect(msg!.raw.toString()).not.toContain('X-Sealcode');
    // Several more retry periods pass: no second delivery.
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.messages).toHaveLength(1);
    const health = (await (await fetch(`http://127.0.0.1:${gw.adminPort}/healthz`)).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
  });

  it('a message that cannot be put on disk is refused with a temporary error, never "sent"', async () => {
    const qdir = gw.smtp!.outbox.dir;
    fs.renameSync(qdir, qdir + '.away');
    fs.writeFileSync(qdir, 'not a folder');
    try {
      await expect(
        submitter().sendMail({ from: 'bob@example.test', to: 'eve@elsewhere.test', subject: 'nowhere to go', text: 'x' }),
      ).rejects.toThrow(/451/);
    } finally {
      fs.rmSync(qdir);
      fs.renameSync(qdir + '.away', qdir);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(sink!.messages.filter((m) => m.raw.toString().includes('nowhere to go'))).toHaveLength(0);
  });
});
