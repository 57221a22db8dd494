// A message that ends the seal worker, against the real listener (and one that once did): the worker's heap is
// bounded (`sealWorkerHeapMb`), and a hostile message that needs more than that ends the
// worker thread, never the gateway. The client's first try gets 451 (a worker may die
// for a reason that passes); the same message again is refused for good with 554, so a
// client never retries a poison message for ever; and the gateway keeps serving others.
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { getFreePort } from '../support/ports.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { cast, tmpDir, waitUntil, writeCardFile, type Cast } from './support/fixtures.js';

let c: Cast;
let sink: SmtpSink;
let gw: Gateway;
let dataDir: string;
const logLines: Record<string, unknown>[] = [];
// The smallest heap the config allows: an ordinary message fits, the hostile one does not.
const HEAP_MB = 16;

beforeAll(async () => {
  c = cast();
  dataDir = tmpDir('sealcode-gw-smtp-crash-');
  sink = await startSmtpSink({ port: await getFreePort() });
  const cardFile = await writeCardFile(c, dataDir, 'card pass');
  const cfg = {
    issuerPublicKey: c.issuerPubB64,
    dataDir,
    admin: { port: 0 },
    smtp: {
      listen: { host: '127.0.0.1', port: await getFreePort() },
      users: [{ user: 'bob', password: 'pw' }],
      upstream: { host: '127.0.0.1', port: sink.port },
      card: { file: cardFile, passphrase: 'card pass' },
      mappings: [{ match: '@partner.test', label: c.serialA }],
      retry: { firstSeconds: 0.2, maxSeconds: 0.5, giveUpHours: 1 },
      sealWorkerHeapMb: HEAP_MB,
    },
  };
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
    logger: pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s) as Record<string, unknown>) }),
  });
});

afterAll(async () => {
  await gw?.stop();
  await sink?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const submitter = () =>
  nodemailer.createTransport({ host: '127.0.0.1', port: gw.smtp!.port, secure: false, requireTLS: true, auth: { user: 'bob', pass: 'pw' }, tls: { rejectUnauthorized: false } });

/** Header blocks as large as allowed (256 KB), each of 50,000 tiny fields: some 20 MB of heap to read one. */
function hostile(levels: number): string {
  const fields = 'X:a\r\n'.repeat(50_000);
  let s = 'From: bob@example.test\r\nTo: dana@partner.test\r\nSubject: hostile\r\nMIME-Version: 1.0\r\n';
  for (let i = 0; i < levels; i++) s += `Content-Type: multipart/mixed; boundary=b${i}\r\n${fields}\r\n--b${i}\r\n`;
  return s + 'Content-Type: application/pdf; name="x.pdf"\r\n\r\nPDF\r\n';
}

/** Multiparts nested `levels` deep, each under a header block of 1,000 fields of 250 bytes (~256 KB). */
function deepHeaders(levels: number): string {
  const fields = Array.from({ length: 1000 }, (_, i) => `X-F${i}: ${'v'.repeat(240)}\r\n`).join('');
  let s = 'From: bob@example.test\r\nTo: dana@partner.test\r\nSubject: deep headers\r\nMIME-Version: 1.0\r\n';
  for (let i = 0; i < levels; i++) s += `Content-Type: multipart/mixed; boundary=d${i}\r\n${fields}\r\n--d${i}\r\n`;
  return s + 'Content-Type: application/pdf; name="deep.pdf"\r\n\r\nPDF\r\n';
}

describe('a message that ends the seal worker', () => {
  it('header blocks are not held for every level of nesting: 45 levels of 256 KB headers fit in the 16 MB heap', async () => {
    // Held per level (a Buffer per line, the text, the parsed fields), this took ~1 MB of
    // heap per level and ended the worker.
    const r = await submitter().sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: deepHeaders(45) });
    expect(r.response).toMatch(/^250 /);
    await waitUntil(() => sink.messages.length >= 1, 30_000, 'relayed');
    expect(sink.messages[0]!.raw.toString('latin1')).toContain('deep.pdf.seal');
    sink.clear();
  });

  it('451 the first time, 554 for good the second; other mail is sealed and relayed meanwhile', async () => {
    const from = logLines.length;
    const raw = hostile(2);
    const send = () => submitter().sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw });
    await expect(send()).rejects.toThrow(/451/);
    const ok = await submitter().sendMail({ from: 'bob@example.test', to: 'dana@partner.test', subject: 'fine', text: 'hi', attachments: [{ filename: 'a.pdf', content: Buffer.alloc(5000, 1) }] });
    expect(ok.response).toMatch(/^250/);
    await expect(send()).rejects.toThrow(/554.*refused/);
    await waitUntil(() => sink.messages.length >= 1, 20_000, 'the good message relayed');
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]!.raw.toString('latin1')).toContain('a.pdf.seal');
    const stopped = logLines.slice(from).filter((l) => l.msg === 'the seal worker stopped on this message');
    expect(stopped.map((l) => [l.crashes, l.refused])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(String(stopped[0]!.err)).toMatch(/memory limit/);
    expect(gw.metrics.registry.render()).toContain('sealcode_gateway_smtp_refused_total{reason="crash"} 1');
    // A third try is refused at once again, not retried: the count is kept.
    await expect(send()).rejects.toThrow(/554/);
  });
});
