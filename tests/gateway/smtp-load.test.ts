// The submission listener under load, with the gateway in its own process (its memory
// and its event loop are what is measured): a 150 MB message against a 1 MB limit is
// answered 552 and the process does not grow with it; /healthz keeps answering while a
// 40 MB message and a 12,000-part message are sealed, and both arrive sealed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../support/ports.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { cast, tmpDir, writeCardFile, type Cast } from './support/fixtures.js';
import { hugeMessage, pollHealth, startSubmissionGateway, submitter, writeBigMessage, writeManyPartMessage, type ChildGateway } from './support/gateway-child.js';

let c: Cast;
let dir: string;
let sink: SmtpSink;
let child: ChildGateway | undefined;
let cardFile: string;
const MB = 1024 * 1024;

beforeAll(async () => {
  c = cast();
  dir = tmpDir('sealcode-gw-smtp-load-');
  sink = await startSmtpSink();
  cardFile = await writeCardFile(c, dir, 'card pass');
});

afterAll(async () => {
  await child?.stop();
  await sink?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(name: string, smtp: Record<string, unknown>): Promise<{ smtpPort: number; adminPort: number; dataDir: string }> {
  const g = await startSubmissionGateway({ dir, name, issuerPubB64: c.issuerPubB64, serial: c.serialA, cardFile, cardPass: 'card pass', upstreamPort: sink.port, smtp });
  child = g.child;
  return g;
}

describe('SMTP submission under load (gateway in its own process)', () => {
  it('150 MB against a 1 MB limit: 552, nothing relayed, the gateway grows by less than 20 MB', async () => {
    const { smtpPort, dataDir } = await start('size', { maxMessageBytes: 1 * MB });
    const mail = submitter(smtpPort, 'bob', 'pw');
    // Warm up: the seal worker, TLS and the code paths are loaded before measuring.
    await mail.sendMail({ from: 'bob@example.test', to: 'dana@partner.test', subject: 'warm', text: 'x', attachments: [{ filename: 'w.bin', content: Buffer.alloc(600_000, 7) }] });
    await sink.waitFor(1, 30_000);
    sink.clear();
    // V8's young generation grows to its working size (some 20-40 MB here) on the first
    // heavy traffic, whatever its size; that is the gateway's own footprint, not the
    // message's. What must not happen is growth with the size of the refused message:
    // refusing 150 MB is compared with refusing 10 MB, each from its own peak reset.
    const refuse = async (mb: number): Promise<number> => {
      child!.resetPeak();
      await expect(mail.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: hugeMessage(mb * MB) })).rejects.toThrow(/552.*size limit/);
      return child!.memory().peakKb / 1024;
    };
    const peak10 = await refuse(10);
    const peak150 = await refuse(150);
    expect(peak150 - peak10).toBeLessThan(20);
    // Nothing of it is left on disk either.
    expect(fs.readdirSync(path.join(dataDir, 'spool'))).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, 'queue'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages).toHaveLength(0);
    mail.close();
    await child!.stop();
    child = undefined;
  }, 180_000);

  it('sealing one 40 MB message and relaying it: the gateway grows by less than 35 MB over its RSS before', async () => {
    const { smtpPort } = await start('rss', { maxMessageBytes: 64 * MB });
    const mail = submitter(smtpPort, 'bob', 'pw');
    // Warm up: the seal worker, TLS and the code paths are loaded before measuring.
    await mail.sendMail({ from: 'bob@example.test', to: 'dana@partner.test', subject: 'warm', text: 'x', attachments: [{ filename: 'w.bin', content: Buffer.alloc(600_000, 7) }] });
    await sink.waitFor(1, 30_000);
    sink.clear();
    const big = path.join(dir, 'big-rss.eml');
    writeBigMessage(big, 40 * MB, 'dana@partner.test');
    await new Promise((r) => setTimeout(r, 500));
    const before = child!.memory().rssKb / 1024;
    child!.resetPeak();
    await mail.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(big) });
    const [relayed] = await sink.waitFor(1, 120_000);
    const growth = child!.memory().peakKb / 1024 - before;
    expect(relayed!.raw.toString('latin1')).toContain('filename="big.bin.seal"');
    // Measured here: 53 MB before the garbage of each thread was collected in step with the
    // bytes (gc-nudge.ts) and the worker's young generation and buffers were made smaller;
    // 19 MB after. (The built gateway, alone: peak 172-176 MB before, 134-141 MB after.)
    expect(growth).toBeLessThan(35);
    mail.close();
    await child!.stop();
    child = undefined;
  }, 300_000);

  it('/healthz answers throughout while a 40 MB message and a 12,000-part message are sealed', async () => {
    // The upstream is down, so the sealed messages stay in the queue to be examined and
    // this process (which polls) does not also receive 55 MB of relayed mail meanwhile.
    const { smtpPort, adminPort, dataDir } = await start('live', {
      maxMessageBytes: 64 * MB,
      upstream: { host: '127.0.0.1', port: await getFreePort() },
      retry: { firstSeconds: 600, maxSeconds: 600, giveUpHours: 1 },
    });
    const big = path.join(dir, 'big.eml');
    const many = path.join(dir, 'many.eml');
    writeBigMessage(big, 40 * MB, 'dana@partner.test');
    writeManyPartMessage(many, 12_000, 'dana@partner.test');
    const mail = submitter(smtpPort, 'bob', 'pw');
    const poll = pollHealth(`http://127.0.0.1:${adminPort}/healthz`);
    const r1 = await mail.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(big) });
    const r2 = await mail.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(many) });
    const lat = await poll.stop();
    expect(r1.response).toMatch(/^250 /);
    expect(r2.response).toMatch(/^250 /);
    // Every poll got its 200; "within 100 ms" is the bench's figure, here a generous bound.
    expect(lat.length).toBeGreaterThan(20);
    expect(lat.filter((ms) => !(ms < 1000))).toEqual([]);

    const queued = (id: string): string => fs.readFileSync(path.join(dataDir, 'queue', `${id}.eml`), 'latin1');
    const bigOut = queued(/Queued as (\S+)/.exec(r1.response)![1]!);
    expect(bigOut).toContain('filename="big.bin.seal"');
    expect(bigOut).not.toContain(fs.readFileSync(big, 'latin1').slice(-2000, -1000));
    const manyOut = queued(/Queued as (\S+)/.exec(r2.response)![1]!);
    expect(manyOut.match(/Content-Type: application\/x-sealcode/g)).toHaveLength(12_000);
    expect(manyOut).not.toMatch(/contents of file|Y29udGVudHMgb2YgZmlsZS/);
    mail.close();
  }, 600_000);
});
