// Gateway benchmark (issue 5): 2,000 messages with 100 KB sealed attachments in a real
// Dovecot folder. Prints, side by side in one run:
//   - a plain imapflow fetch of the same messages (whole sources, one FETCH): the ceiling;
//   - the gateway labelling all of them (fetch + MIME walk + certify + STORE + journal),
//     timed from the end of one MOVE that drops them all into the watched INBOX;
//   - APPEND-to-keyword latency under IDLE, p50 / p99.
//   - peak RSS of the gateway (the built CLI, its own process) certifying one message with
//     a 40 MB sealed attachment (streamed through the MIME walk; target < 150 MB).
// Targets: label rate >= 50% of the plain fetch rate; p50 latency < 1 s.
// Run: npm run bench:gateway   (env: BENCH_MESSAGES, BENCH_SIZE, BENCH_LATENCY_SAMPLES, BENCH_THREADS)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ImapFlow } from 'imapflow';
import { startDovecot } from '../tests/support/dovecot.js';
import { parseConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/service.js';
import { PASS, USER, cast, gatewayConfig, sealedMail } from '../tests/gateway/support/fixtures.js';
import { smtpBench } from './gateway-smtp.js';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const SIZE = Number(process.env.BENCH_SIZE ?? 100 * 1024);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 100);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (n: number, d = 1): string => n.toFixed(d);

async function main(): Promise<void> {
  const dc = await startDovecot({ users: [{ user: USER, pass: PASS }] });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-gw-'));
  const c = cast();
  try {
    const client = new ImapFlow({ host: dc.host, port: dc.port, secure: false, auth: { user: USER, pass: PASS }, logger: false });
    await client.connect();
    // 50 distinct containers of each kind, cycled: sealing is not what is measured here.
    const kinds = ['card', 'dedicated', 'dedToDed'] as const;
    const mails: Buffer[] = [];
    for (let i = 0; i < 60; i++) mails.push(await sealedMail(c, kinds[i % 3]!, SIZE, `bench ${i}`));
    // The messages wait in another folder; the gateway watches INBOX.
    await client.mailboxCreate('Bench').catch(() => {});
    let t = performance.now();
    for (let i = 0; i < N; i++) await client.append('Bench', mails[i % mails.length]!);
    const appendS = (performance.now() - t) / 1000;
    const totalBytes = N * mails[0]!.length;
    console.log(`setup: appended ${N} messages of ${fmt(mails[0]!.length / 1024, 0)} KB in ${fmt(appendS)} s`);

    // Ceiling: fetch every message's source, as fast as imapflow can; three runs, the
    // median counts (single runs vary several-fold on a shared machine).
    await client.mailboxOpen('Bench');
    const plainRuns: number[] = [];
    let bytes = 0;
    for (let run = 0; run < 3; run++) {
      t = performance.now();
      let fetched = 0;
      bytes = 0;
      for await (const m of client.fetch('1:*', { uid: true, source: true })) {
        fetched++;
        bytes += m.source?.length ?? 0;
      }
      plainRuns.push((performance.now() - t) / 1000);
      if (fetched !== N) throw new Error(`fetched ${fetched} of ${N}`);
    }
    const plainS = pct(plainRuns, 50);

    // The gateway, started and warmed up on one message (process start-up, worker
    // threads and connection set-up are not what is measured).
    const file = path.join(dataDir, 'gateway.json');
    const gcfg = gatewayConfig(c, dc, dataDir, { log: { level: 'warn' } });
    if (process.env.BENCH_THREADS) Object.assign(gcfg.imap, { certifyThreads: Number(process.env.BENCH_THREADS) });
    fs.writeFileSync(file, JSON.stringify(gcfg));
    const cfg = parseConfig(fs.readFileSync(file, 'utf8'), file);
    const settledAt = new Map<number, number>();
    let labelled = 0;
    let target = 1;
    let done: () => void = () => {};
    let allDone = new Promise<void>((r) => (done = r));
    const gw = await startGateway(cfg, {
      logger: pino({ level: 'warn' }),
      onSettled: (e) => {
        settledAt.set(e.uid, performance.now());
        if (e.label) labelled++;
        if (labelled === target) done();
      },
    });
    await gw.ready;
    await client.append('INBOX', mails[0]!);
    await allDone;
    target = N + 1;
    allDone = new Promise<void>((r) => (done = r));
    // One MOVE makes all of them appear in INBOX at once; the clock starts when it returns.
    await client.messageMove('1:*', 'INBOX');
    t = performance.now();
    await allDone;
    const gwS = (performance.now() - t) / 1000;
    await client.logout();

    // Latency under IDLE: one APPEND at a time, time until the keyword is stored.
    const appender = new ImapFlow({ host: dc.host, port: dc.port, secure: false, auth: { user: USER, pass: PASS }, logger: false });
    await appender.connect();
    const lat: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const t0 = performance.now();
      const r = await appender.append('INBOX', mails[i % mails.length]!);
      const uid = (r as { uid?: number }).uid!;
      while (!settledAt.has(uid)) await new Promise((res) => setTimeout(res, 1));
      lat.push(settledAt.get(uid)! - t0);
    }
    await appender.logout();
    await gw.stop();

    const plainRate = N / plainS;
    const gwRate = N / gwS;
    console.log('');
    console.log(`| what (${N} messages, ${fmt(SIZE / 1024, 0)} KB sealed attachment each) | seconds | messages/s | MB/s |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| plain imapflow fetch of the sources (ceiling, median of ${plainRuns.map((x) => fmt(x, 2)).join(' / ')} s) | ${fmt(plainS, 2)} | ${fmt(plainRate, 0)} | ${fmt(bytes / plainS / 1e6)} |`);
    console.log(`| gateway: download + certify + STORE keyword + journal | ${fmt(gwS, 2)} | ${fmt(gwRate, 0)} | ${fmt(totalBytes / gwS / 1e6)} |`);
    console.log('');
    console.log(`label rate / plain fetch rate: ${fmt((gwRate / plainRate) * 100, 0)}%  (target >= 50%)`);
    console.log(`APPEND -> keyword latency under IDLE (${SAMPLES} samples): p50 ${fmt(pct(lat, 50), 0)} ms, p99 ${fmt(pct(lat, 99), 0)} ms, max ${fmt(Math.max(...lat), 0)} ms  (target p50 < 1000 ms)`);
    await certifyRss(dc, c, dataDir);
  } finally {
    await dc.dispose();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 40);

/** Peak RSS (VmHWM) and current RSS of a process, in MB, from /proc. */
function rssOf(pid: number): { peak: number; now: number } {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)![1]) / 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** The built gateway in its own process, certifying one message with a BIG_MB sealed attachment. */
async function certifyRss(dc: Awaited<ReturnType<typeof startDovecot>>, c: ReturnType<typeof cast>, dataDir: string): Promise<void> {
  const root = path.resolve(import.meta.dirname, '..');
  if (!fs.existsSync(path.join(root, 'build/cli/main.js'))) throw new Error('the RSS row runs the built gateway: npm run build first');
  const client = new ImapFlow({ host: dc.host, port: dc.port, secure: false, auth: { user: USER, pass: PASS }, logger: false });
  await client.connect();
  await client.mailboxCreate('Big').catch(() => {});
  const dir = path.join(dataDir, 'rss');
  fs.mkdirSync(dir);
  const cfg = gatewayConfig(c, dc, dir, { log: { level: 'warn' } });
  Object.assign(cfg.imap.accounts[0]!, { folders: ['Big'] });
  const file = path.join(dir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const mail = await sealedMail(c, 'card', BIG_MB * 1024 * 1024, 'big');
  const child = spawn(process.execPath, [path.join(root, 'bin/sealcode.js'), 'gateway', '--config', file], {
    env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    // Idle: connected and caught up on an empty folder.
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rssOf(child.pid!);
    const t = performance.now();
    await client.append('Big', mail);
    await client.mailboxOpen('Big');
    let flags: string[] = [];
    while (!flags.some((f) => f.startsWith('$Seal'))) {
      await new Promise((r) => setTimeout(r, 100));
      const m = await client.fetchOne('*', { flags: true });
      flags = [...((m && m.flags) || [])];
    }
    const s = (performance.now() - t) / 1000;
    const r = rssOf(child.pid!);
    console.log('');
    console.log(`| gateway certifying one message with a ${BIG_MB} MB sealed attachment (${fmt(mail.length / 1e6)} MB source) | value |`);
    console.log('| --- | --- |');
    console.log(`| verdict | ${flags.filter((f) => f.startsWith('$Seal')).join(' ')} |`);
    console.log(`| APPEND to keyword | ${fmt(s, 2)} s |`);
    console.log(`| RSS idle / peak (VmHWM) | ${fmt(idle.now, 0)} MB / ${fmt(r.peak, 0)} MB  (target peak < 150 MB) |`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await client.logout();
  }
}

await main();
// The SMTP submission rows (issue 8): bench/gateway-smtp.ts.
await smtpBench();
