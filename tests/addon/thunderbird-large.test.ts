// A 200 MiB attachment end to end in real Thunderbird (issue 10 item 6): Dana's dedicated
// build seals it with sealFile and its real plan (what onBeforeSend runs for each
// attachment) and hands the container out; the test mails it into Alice's Dovecot inbox;
// the purchaser add-on, with Alice's card behind the native host, certifies and decrypts
// it (the real verdictsFor → messages.getAttachmentFile). Not through compose.sendMessage:
// this test measures opening; sealing on send and Thunderbird's own send of a 200 MiB file
// are send-big.test.ts (they failed here before because of the SMTP sink's 200 MiB limit
// and the event page's idle suspension, docs/addon.md). The resident memory of each Thunderbird's process tree is sampled
// throughout; the add-on's own seal and open are timed from inside, so the peak within
// those windows is told apart from Thunderbird's IMAP and MIME work around them.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStatus } from '../../card/index.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { PASSPHRASE, cli, dedicatedTestXpi, mail, makeAddonWorld, purchaserTestXpi, type AddonWorld } from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';
import { startStatusServer, type StatusServer } from './support/status-server.js';
import { MB, sampleMemory, type MemorySampler } from './support/memory.js';

const SIZE = 200 * MB;
const SUBJECT = 'a 200 MiB file';
/**
 * The target (150 MB above idle), which the whole-buffer code fails by far and the
 * first streamed code fails too. Measured here at 200 MiB
 * (docs/addon.md), streamed with one read buffer and each WebCrypto result freed once
 * written: 52-72 MB above idle while sealing, the tree growing 32-83 MB while opening (three
 * runs, Thunderbird's MIME work beside it). Streamed without those: 152-221 and 49-267 MB
 * (put back by hand once: 159 and 212 MB, and this test failed). Whole-buffer: 533 and 549 MB.
 */
const LIMIT = 150 * MB;

let dir: string;
let w: AddonWorld;
let dc: Dovecot;
let status: StatusServer;
let files: http.Server;
let plainUrl: string;
let sealedUrl: string;
let sealedFile: string;
let plainSha: string;
const users = ['alice@example.test', 'dana@example.test'].map((user) => ({ user, pass: `pw-${user}` }));
const imapOf = (user: string) => ({ host: dc.host, port: dc.port, user, pass: `pw-${user}` });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-addon-large-'));
  status = await startStatusServer();
  w = await makeAddonWorld(dir, { distributorUrl: status.url });
  status.serve(signStatus(w.issuer.secretKey, { issuedAt: Date.now() - 60_000, revoked: { codes: [], builds: [], cards: [] } }));
  const plain = patternBytes(SIZE, 31);
  plainSha = createHash('sha256').update(plain).digest('hex');
  // The file Dana attaches, fetched by her Thunderbird from loopback.
  sealedFile = path.join(dir, 'big.bin.seal');
  files = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/sealed') {
      const sink = fs.createWriteStream(sealedFile);
      req.pipe(sink);
      sink.on('finish', () => res.writeHead(204).end());
      sink.on('error', () => res.writeHead(500).end());
      return;
    }
    if (req.url !== '/big.bin') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': plain.length }).end(plain);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  plainUrl = `${base}/big.bin`;
  sealedUrl = `${base}/sealed`;
  dc = await startDovecot({ users });
}, 120_000);

afterAll(async () => {
  files?.close();
  await Promise.allSettled([dc?.dispose(), status?.stop()]);
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

/** One Thunderbird run, its memory sampled from before launch; `idle` answers when the add-on is up. */
async function sampledRun(
  name: string,
  xpi: (reportUrl: string) => Promise<string>,
  o: { email: string; fullName: string; prepare?: (home: string) => Promise<void> },
): Promise<{ r: RunResult; mem: MemorySampler; idleAt: number; endAt: number }> {
  const profileDir = path.join(dir, `tb-${name}`);
  const mem = sampleMemory(profileDir);
  let idleAt = 0;
  try {
    const r = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        xpi: await xpi(rs.url),
        timeoutMs: 360_000,
        profile: {
          dir: profileDir,
          imap: imapOf(o.email),
          identity: { name: o.fullName, email: o.email },
        },
        prepare: o.prepare,
        answers: { idle: async () => void (idleAt = Date.now()) },
      }),
    );
    return { r, mem, idleAt, endAt: Date.now() };
  } finally {
    mem.stop();
  }
}

const mb = (b: number): string => `${(b / MB).toFixed(0)} MB`;

describe('a 200 MiB attachment through the add-on in real Thunderbird', () => {
  it('is sealed by the dedicated build, mailed, and opened by the purchaser add-on to the same bytes, memory sampled', async () => {
    // Sealing: Dana's build reads the file, seals it into a disk-backed Blob, and uploads it.
    const send = await sampledRun(
      'dana',
      (url) =>
        dedicatedTestXpi(path.join(dir, 'dana.xpi'), { ...w.dana, distributorUrl: status.url }, url, [
          { op: 'waitInbox', count: 0 },
          { op: 'ask', name: 'idle' },
          { op: 'sealOut', from: plainUrl, to: sealedUrl },
        ]),
      { email: 'dana@example.test', fullName: 'Dana' },
    );
    const out = stepResult(send.r, 'sealOut');
    expect(out.size).toBe(SIZE);
    expect(out.sealedSize).toBeGreaterThan(SIZE);
    expect(fs.statSync(sealedFile).size).toBe(out.sealedSize);
    const sealMs = out.sealedAt - out.startedAt;
    const idleSend = send.mem.levelAt(send.idleAt);
    const sealPeak = send.mem.peak(out.startedAt, out.sealedAt) - idleSend;
    const sealGrowth = send.mem.peak(out.startedAt, out.sealedAt) - send.mem.levelAt(out.startedAt, 3);

    // Delivery: an ordinary MIME message with the container, into Alice's inbox.
    await dc.append(
      'alice@example.test',
      await mail({ from: 'Dana <dana@example.test>', to: 'alice@example.test', subject: SUBJECT, attachments: [{ filename: 'big.bin.seal', content: fs.readFileSync(sealedFile) }] }),
    );

    // Opening: the purchaser add-on, the card behind the native host (only the file key crosses it).
    const open = await sampledRun(
      'alice',
      (url) =>
        purchaserTestXpi(path.join(dir, 'alice.xpi'), url, [
          { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
          { op: 'waitInbox', count: 1 },
          { op: 'ask', name: 'idle' },
          { op: 'verdicts', subject: SUBJECT },
        ]),
      {
        email: 'alice@example.test',
        fullName: 'Alice Example',
        prepare: async (home) => {
          const inst = await cli(['card', 'host', '--install', '--card', w.cardFile, '--json'], { HOME: home });
          if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}${inst.stdout}`);
        },
      },
    );
    expect(stepResult(open.r, 'unlock').locked).toBe(false);
    const [v] = stepResult(open.r, 'verdicts');
    expect(v.views).toHaveLength(1);
    expect(v.views[0]).toMatchObject({ kind: 'certified', origin: 'dedicated', file: { name: 'big.bin', size: SIZE } });
    expect(v.files[0]).toEqual({ name: 'big.bin', size: SIZE, sha256: plainSha });
    const openMs: number = v.views[0].ms;
    const idleOpen = open.mem.levelAt(open.idleAt);
    const openPeak = open.mem.peak(v.doneAt - openMs, v.doneAt) - idleOpen;
    // Thunderbird still holds what its MIME work took when the add-on starts: the add-on's
    // own share is what the process tree grows by while it certifies and decrypts.
    const openGrowth = open.mem.peak(v.doneAt - openMs, v.doneAt) - open.mem.levelAt(v.doneAt - openMs, 3);
    const receivePeak = open.mem.peak(open.idleAt, open.endAt) - idleOpen;
    // Which process grew while the add-on opened: its content process, or Thunderbird's main one.
    const byProc = open.mem.grewBy(v.doneAt - openMs, v.doneAt, v.doneAt - openMs, MB);

    console.log(
      `LARGE ${mb(SIZE)} in real Thunderbird: seal ${sealMs} ms, peak ${mb(sealPeak)} above idle (${mb(idleSend)}), growing ${mb(sealGrowth)} while sealing; ` +
        `certify + decrypt ${openMs} ms, peak ${mb(openPeak)} above idle (${mb(idleOpen)}), growing ${mb(openGrowth)} while opening (${byProc}), ` +
        `${mb(receivePeak)} over the whole verdict (Thunderbird's IMAP download and MIME included, ${v.totalMs} ms); ` +
        `runs ${send.r.seconds.toFixed(0)} s + ${open.r.seconds.toFixed(0)} s`,
    );
    // Both windows had samples (a window with none would read as 0 and pass for nothing).
    expect(Math.min(idleSend, idleOpen)).toBeGreaterThan(100 * MB);
    expect(sealMs).toBeGreaterThan(500);
    expect(openMs).toBeGreaterThan(500);
    expect(sealPeak).toBeLessThan(LIMIT);
    expect(openGrowth).toBeLessThan(LIMIT);
  }, 1_200_000);
});
