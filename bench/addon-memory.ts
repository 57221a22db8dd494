// Where the add-on's memory goes inside a real Thunderbird (issue 10): each ingredient of a
// streamed seal or open run alone over 200 MiB (thunderbird-addon/background/mem-probe.ts),
// after a pause that lets the memory settle, while this script samples the resident memory
// of Thunderbird's process tree every 100 ms. Prints, per probe, how much the tree and each
// of its processes grew. Run: npx tsx bench/addon-memory.ts  (env: BENCH_MB=200, BENCH_SETTLE_MS=8000)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDovecot } from '../tests/support/dovecot.js';
import { dedicatedTestXpi, makeAddonWorld } from '../tests/addon/support/addon-world.js';
import { KEEP_AWAKE, runThunderbird, stepResult, withReportServer } from '../tests/addon/support/run-thunderbird.js';
import { MB, sampleMemory } from '../tests/addon/support/memory.js';
import { PROBES } from '../thunderbird-addon/background/mem-probe.js';

const SIZE_MB = Number(process.env.BENCH_MB ?? 200);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 8000);
const KINDS = process.env.BENCH_PROBES?.split(',') ?? [...PROBES];

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-addon-mem-'));
  const w = await makeAddonWorld(dir);
  const dc = await startDovecot({ users: [{ user: 'dana@example.test', pass: 'pw' }] });
  const profileDir = path.join(dir, 'tb-probe');
  const mem = sampleMemory(profileDir);
  const marks: Record<string, number> = {};
  const mark = (n: string, settle = 0) => async () => {
    await new Promise((r) => setTimeout(r, settle));
    marks[n] = Date.now();
  };
  try {
    const steps = [{ op: 'ask', name: 'idle' }, ...KINDS.flatMap((k) => [{ op: 'ask', name: `pre-${k}` }, { op: 'probe', kind: k, mb: SIZE_MB }, { op: 'ask', name: `post-${k}` }])];
    const answers = Object.fromEntries([['idle', mark('idle', SETTLE_MS)], ...KINDS.flatMap((k) => [[`pre-${k}`, mark(`pre-${k}`, SETTLE_MS)], [`post-${k}`, mark(`post-${k}`)]])]);
    const r = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        xpi: await dedicatedTestXpi(path.join(dir, 'dana.xpi'), w.dana, rs.url, steps),
        timeoutMs: 240_000,
        profile: { dir: profileDir, imap: { host: dc.host, port: dc.port, user: 'dana@example.test', pass: 'pw' }, identity: { name: 'Dana', email: 'dana@example.test' }, prefs: KEEP_AWAKE },
        answers,
      }),
    );
    const idle = mem.levelAt(marks.idle!);
    const f = (b: number) => (b / MB).toFixed(0);
    console.log(`Thunderbird process tree, idle: ${f(idle)} MB; ${SIZE_MB} MiB per probe; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    KINDS.forEach((k, i) => {
      const p = stepResult(r, 'probe', i);
      const from = marks[`pre-${k}`]!;
      const to = marks[`post-${k}`]!;
      console.log(
        `${k.padEnd(12)} ${String(p.ms).padStart(5)} ms: tree at start ${f(mem.levelAt(from, 3) - idle)} above idle, grew +${f(mem.peak(from, to) - mem.levelAt(from, 3))} (${mem.grewBy(from, to)})`,
      );
    });
  } finally {
    mem.stop();
    await dc.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
