// Add-on benchmark inside a real Thunderbird (issue 10): the dedicated build seals and
// opens 25 MB and 200 MB files (the perf step: sealFile as onBeforeSend runs it, judge as
// the banner runs it), while this script samples the resident memory of Thunderbird's
// whole process tree every 100 ms. Prints time and peak memory above the idle tree.
// Run: npx tsx bench/addon.ts   (env: BENCH_SIZES_MB=25,200)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startDovecot } from '../tests/support/dovecot.js';
import { startSmtpSink } from '../tests/support/smtp-sink.js';
import { aliceParty, dedicatedTestXpi, makeAddonWorld, sealWith } from '../tests/addon/support/addon-world.js';
import { KEEP_AWAKE, runThunderbird, stepResult, withReportServer } from '../tests/addon/support/run-thunderbird.js';
import { patternBytes } from '../thunderbird-addon/lib/pattern.js';
import { MB, sampleMemory } from '../tests/addon/support/memory.js';

const SIZES = (process.env.BENCH_SIZES_MB ?? '25,200').split(',').map(Number);
/** A pause after each phase (ms), so that each phase's growth is its own: BENCH_SETTLE_MS. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 0);
/** How long after start-up the idle level is taken: BENCH_IDLE_AFTER_MS. */
const IDLE_AFTER_MS = Number(process.env.BENCH_IDLE_AFTER_MS ?? 10_000);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-addon-'));
  const w = await makeAddonWorld(dir);
  const sealed = new Map<number, Buffer>();
  for (const mb of SIZES) sealed.set(mb, await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], patternBytes(mb * MB, mb), 'big.bin'));
  const server = http.createServer((req, res) => {
    const b = sealed.get(Number(req.url?.slice(1)));
    if (!b) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [dc, sink] = await Promise.all([startDovecot({ users: [{ user: 'dana@example.test', pass: 'pw' }] }), startSmtpSink()]);
  const profileDir = path.join(dir, 'tb-bench');
  const mem = sampleMemory(profileDir);
  const marks: Record<string, number> = {};
  try {
    const steps = [{ op: 'ask', name: 'idle' }, ...SIZES.flatMap((mb) => [{ op: 'ask', name: `start${mb}` }, { op: 'perf', mb, sealed: `${base}/${mb}`, settleMs: SETTLE_MS }, { op: 'ask', name: `end${mb}` }])];
    const mark = (n: string) => async () => void (marks[n] = Date.now());
    const answers = Object.fromEntries([...SIZES.flatMap((mb) => [`start${mb}`, `end${mb}`])].map((n) => [n, mark(n)]));
    // Idle once Thunderbird settled: its main process still grows 50-70 MB in the first
    // seconds after the add-on starts, with or without the add-on doing anything.
    answers.idle = async () => {
      await new Promise((r) => setTimeout(r, IDLE_AFTER_MS));
      await mark('idle')();
    };
    let phases: { name: string; mb: number; t: number }[] = [];
    const r = await withReportServer(async (rs) => {
      const run = await runThunderbird({
        rs,
        xpi: await dedicatedTestXpi(path.join(dir, 'dana.xpi'), w.dana, rs.url, steps),
        timeoutMs: 600_000,
        profile: { dir: profileDir, imap: { host: dc.host, port: dc.port, user: 'dana@example.test', pass: 'pw' }, smtp: { host: sink.host, port: sink.port }, identity: { name: 'Dana', email: 'dana@example.test' }, prefs: KEEP_AWAKE },
        answers,
      });
      phases = rs.reports.filter((x) => x.body?.event === 'phase').map((x) => ({ ...x.body.data, t: x.receivedAt.getTime() }));
      return run;
    });
    const idle = mem.levelAt(marks.idle!);
    console.log(`Thunderbird process tree, idle with the add-on loaded: ${(idle / MB).toFixed(0)} MB; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    SIZES.forEach((mb, i) => {
      const p = stepResult(r, 'perf', i);
      const peakIn = mem.peak;
      const peak = peakIn(marks[`start${mb}`]!, marks[`end${mb}`]!);
      // Each phase of the step (making the input, seal, fetching the container, open, hashing
      // the result): its peak above idle, and how much the tree grew within it (what the
      // phase itself took, with the garbage earlier phases left behind not counted).
      let from = marks[`start${mb}`]!;
      const byPhase = phases
        .filter((x) => x.mb === mb)
        .map((x) => {
          const p = x.name.endsWith('-settled')
            ? `settled to ${((mem.levelAt(x.t, 3) - idle) / MB).toFixed(0)}`
            : `${x.name} ${((peakIn(from, x.t) - idle) / MB).toFixed(0)} (+${((peakIn(from, x.t) - mem.levelAt(from, 3)) / MB).toFixed(0)}: ${mem.grewBy(from, x.t)})`;
          from = x.t;
          return p;
        });
      const ok = p.opened === 'certified' && p.openedSize === mb * MB;
      console.log(
        `${mb} MB: seal ${p.sealMs} ms (${((mb * 1000) / p.sealMs).toFixed(0)} MB/s), certify + decrypt ${p.openMs} ms (${((mb * 1000) / p.openMs).toFixed(0)} MB/s), ` +
          `peak ${(peak / MB).toFixed(0)} MB = ${((peak - idle) / MB).toFixed(0)} MB above idle (${((peak - idle) / (mb * MB)).toFixed(1)}x the file)${ok ? '' : ' — DID NOT OPEN'}\n` +
          `  by phase, peak above idle (+ growth within the phase), MB: ${byPhase.join(', ')}\n` +
          `  chunks freed once written: ${p.freeing ? `${p.released.buffers} so far (${(p.released.bytes / MB).toFixed(0)} MB)` : 'no (this engine keeps them)'}\n` +
          `  by process, peak above its idle level, MB: ${mem.grewBy(marks[`start${mb}`]!, marks[`end${mb}`]!, marks.idle!)}`,
      );
    });
  } finally {
    mem.stop();
    server.close();
    await Promise.allSettled([dc.dispose(), sink.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
