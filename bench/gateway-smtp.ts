// SMTP submission benchmark (issue 8), against the built gateway in its own process and
// a real upstream (smtp-server, which counts and drops what it gets). Prints:
//   - sealing throughput: N messages with one S MB attachment each to a mapped recipient,
//     submitted one after another over STARTTLS, next to the same messages relayed
//     unsealed to an unmapped recipient (the reference: same listener, spool, queue);
//   - peak RSS of the gateway process while it seals one 40 MB message (target < 150 MB),
//     and by phase (DATA to the spool, rewrite + seal in the worker, relay upstream);
//   - /healthz latency while a 40 MB and a 12,000-part message are sealed (target < 100 ms).
// Run: npm run bench:gateway (after the IMAP rows), or alone: npx tsx bench/gateway-smtp.ts
//   env: BENCH_SMTP_MESSAGES (100), BENCH_SMTP_MB (10), BENCH_SMTP_PARTS (12000)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { getFreePort } from '../tests/support/ports.js';
import { cast, writeCardFile } from '../tests/gateway/support/fixtures.js';
import { hugeMessage, pollHealth, startSubmissionGateway, submitter, writeBigMessage, writeManyPartMessage, type ChildGateway } from '../tests/gateway/support/gateway-child.js';

const N = Number(process.env.BENCH_SMTP_MESSAGES ?? 100);
const SIZE_MB = Number(process.env.BENCH_SMTP_MB ?? 10);
const PARTS = Number(process.env.BENCH_SMTP_PARTS ?? 12_000);
const MB = 1024 * 1024;
const root = path.resolve(import.meta.dirname, '..');
const fmt = (n: number, d = 1): string => n.toFixed(d);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** The built gateway is what admins run; rebuilt when the sources are newer. */
function ensureBuilt(): void {
  const built = path.join(root, 'build/gateway/smtp/server.js');
  const newest = Math.max(
    ...fs.readdirSync(path.join(root, 'gateway'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => fs.statSync(path.join(root, 'gateway', f)).mtimeMs),
  );
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest) return;
  const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('npm run build failed');
}

async function countingSink(): Promise<{ port: number; count: () => number; bytes: () => number; stop: () => Promise<void> }> {
  let n = 0;
  let bytes = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _s, cb) {
      stream.on('data', (c: Buffer) => (bytes += c.length));
      stream.on('end', () => {
        n++;
        cb();
      });
    },
  });
  const port = await getFreePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, count: () => n, bytes: () => bytes, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * The gateway's RSS sampled every 5 ms, cut into the phases of one submission, told
 * apart from outside: DATA being written to the spool (until the spool file stops
 * growing), the worker's rewrite and seal (until the queue file appears), the relay
 * upstream (until `relayed()`).
 */
function phaseSampler(child: ChildGateway, dataDir: string, relayed: () => boolean): { stop(): Promise<{ name: string; peakMb: number; seconds: number }[]> } {
  const names = ['DATA to the spool', 'rewrite + seal in the worker', 'relay upstream'];
  const peaks = [0, 0, 0];
  const starts = [performance.now(), 0, 0];
  let phase = 0;
  let lastSize = -1;
  let sameSince = 0;
  const spool = path.join(dataDir, 'spool');
  const queue = path.join(dataDir, 'queue');
  const timer = setInterval(() => {
    if (phase === 0) {
      const f = fs.readdirSync(spool).find((n) => n.startsWith('in-'));
      const size = f ? fs.statSync(path.join(spool, f), { throwIfNoEntry: false })?.size ?? -1 : -1;
      // Still for 50 ms: the client has sent the end of DATA.
      if (size !== lastSize) sameSince = performance.now();
      else if (size > 0 && performance.now() - sameSince > 50) phase = 1;
      lastSize = size;
    }
    if (phase === 1 && fs.readdirSync(queue).some((n) => n.endsWith('.eml'))) phase = 2;
    if (phase === 2 && relayed()) phase = 3;
    if (phase < 3) {
      if (!starts[phase]) starts[phase] = performance.now();
      peaks[phase] = Math.max(peaks[phase]!, child.memory().rssKb / 1024);
    }
  }, 5);
  return {
    async stop() {
      while (phase < 3) await new Promise((r) => setTimeout(r, 20));
      clearInterval(timer);
      const end = performance.now();
      return names.map((name, i) => ({ name, peakMb: peaks[i]!, seconds: ((starts[i + 1] || end) - starts[i]!) / 1000 }));
    },
  };
}

export async function smtpBench(): Promise<void> {
  ensureBuilt();
  const c = cast();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-smtp-'));
  const sink = await countingSink();
  let child: ChildGateway | undefined;
  const start = async (name: string, smtp: Record<string, unknown> = {}): Promise<{ smtpPort: number; adminPort: number; dataDir: string }> => {
    const g = await startSubmissionGateway({
      dir, name, issuerPubB64: c.issuerPubB64, serial: c.serialA, cardFile, cardPass: 'card pass', upstreamPort: sink.port,
      smtp: { maxMessageBytes: 64 * MB, ...smtp }, built: true,
    });
    child = g.child;
    return g;
  };
  const cardFile = await writeCardFile(c, dir, 'card pass');
  try {
    // Throughput: sealed (mapped) against relayed as written (unmapped), same messages.
    const one = path.join(dir, 'one.eml');
    writeBigMessage(one, SIZE_MB * MB, 'dana@partner.test');
    const onePlain = path.join(dir, 'one-plain.eml');
    writeBigMessage(onePlain, SIZE_MB * MB, 'eve@elsewhere.test');
    const { smtpPort } = await start('throughput');
    const mail = submitter(smtpPort, 'bob', 'pw');
    const run = async (file: string, to: string, n = N): Promise<number> => {
      const before = sink.count();
      const t = performance.now();
      for (let i = 0; i < n; i++) await mail.sendMail({ envelope: { from: 'bob@example.test', to: [to] }, raw: fs.createReadStream(file) });
      const accepted = (performance.now() - t) / 1000;
      while (sink.count() < before + n) await new Promise((r) => setTimeout(r, 20));
      return accepted;
    };
    await run(one, 'dana@partner.test', 2); // warm-up (worker, TLS, JIT), not counted
    const plainS = await run(onePlain, 'eve@elsewhere.test');
    const sealedS = await run(one, 'dana@partner.test');
    mail.close();
    await child!.stop();
    const msgMb = fs.statSync(one).size / MB;

    // Peak RSS sealing one 40 MB message, and /healthz while 40 MB and many parts are sealed.
    const big = path.join(dir, 'big.eml');
    writeBigMessage(big, 40 * MB, 'dana@partner.test');
    const many = path.join(dir, 'many.eml');
    writeManyPartMessage(many, PARTS, 'dana@partner.test');
    const { smtpPort: p2, adminPort, dataDir: rssDir } = await start('rss');
    const mail2 = submitter(p2, 'bob', 'pw');
    await new Promise((r) => setTimeout(r, 1000));
    const idle = child!.memory();
    // Alone first (nothing else in the process), phase by phase; then with /healthz polled.
    const relayedBefore = sink.count();
    const phases = phaseSampler(child!, rssDir, () => sink.count() > relayedBefore);
    await mail2.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(big) });
    while (sink.count() === relayedBefore) await new Promise((r) => setTimeout(r, 20));
    const perPhase = await phases.stop();
    const peakBig = child!.memory().peakKb;
    let poll = pollHealth(`http://127.0.0.1:${adminPort}/healthz`);
    let t = performance.now();
    await mail2.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(big) });
    const bigS = (performance.now() - t) / 1000;
    const latBig = await poll.stop();
    poll = pollHealth(`http://127.0.0.1:${adminPort}/healthz`);
    t = performance.now();
    await mail2.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: fs.createReadStream(many) });
    const manyS = (performance.now() - t) / 1000;
    const latMany = await poll.stop();
    mail2.close();
    await child!.stop();

    // A message far over the limit: memory must not follow its size.
    const { smtpPort: p3 } = await start('limit', { maxMessageBytes: 1 * MB });
    const mail3 = submitter(p3, 'bob', 'pw');
    await mail3.sendMail({ from: 'bob@example.test', to: 'dana@partner.test', subject: 'warm', text: 'x', attachments: [{ filename: 'w.bin', content: Buffer.alloc(600_000, 7) }] });
    const refuse = async (mb: number): Promise<{ before: number; peak: number }> => {
      const before = child!.memory().rssKb / 1024;
      child!.resetPeak();
      const err = await mail3.sendMail({ envelope: { from: 'bob@example.test', to: ['dana@partner.test'] }, raw: hugeMessage(mb * MB) }).catch((e: Error) => e);
      if (!(err instanceof Error) || !/552/.test(err.message)) throw new Error(`expected 552, got ${String(err)}`);
      return { before, peak: child!.memory().peakKb / 1024 };
    };
    const r10 = await refuse(10);
    const r150 = await refuse(150);
    mail3.close();
    await child!.stop();
    child = undefined;

    console.log('');
    console.log(`| SMTP submission (${N} messages, ${fmt(msgMb)} MB each, one ${SIZE_MB} MB attachment) | seconds | messages/s | MB/s |`);
    console.log('| --- | --- | --- | --- |');
    console.log(`| relayed as written (unmapped recipient; reference) | ${fmt(plainS, 2)} | ${fmt(N / plainS, 2)} | ${fmt((N * msgMb) / plainS)} |`);
    console.log(`| sealed for a mapped recipient (spool, worker rewrite + seal, queue) | ${fmt(sealedS, 2)} | ${fmt(N / sealedS, 2)} | ${fmt((N * msgMb) / sealedS)} |`);
    console.log(`sealing throughput / relay throughput: ${fmt((plainS / sealedS) * 100, 0)}%`);
    console.log('');
    console.log(`gateway RSS: idle ${fmt(idle.rssKb / 1024, 0)} MB; peak while sealing one 40 MB message ${fmt(peakBig / 1024, 0)} MB (target < 150 MB)`);
    console.log(`  peak RSS by phase: ${perPhase.map((p) => `${p.name} ${fmt(p.peakMb, 0)} MB (${fmt(p.seconds, 1)} s)`).join('; ')}`);
    const row = (what: string, lat: number[], s: number): string =>
      `/healthz while ${what} (${fmt(s, 1)} s to 250, ${lat.length} polls): p50 ${fmt(pct(lat, 50), 0)} ms, p99 ${fmt(pct(lat, 99), 0)} ms, max ${fmt(Math.max(...lat), 0)} ms (target < 100 ms)`;
    console.log(row('a 40 MB message is sealed', latBig, bigS));
    console.log(row(`a ${PARTS}-part message is sealed`, latMany, manyS));
    console.log(
      `refused over a 1 MB limit (552): 10 MB: RSS ${fmt(r10.before, 0)} MB before, peak ${fmt(r10.peak, 0)} MB; ` +
        `150 MB: RSS ${fmt(r150.before, 0)} MB before, peak ${fmt(r150.peak, 0)} MB (growth ${fmt(r150.peak - r150.before, 0)} MB; target < 20 MB)`,
    );
  } finally {
    await child?.stop();
    await sink.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await smtpBench();
