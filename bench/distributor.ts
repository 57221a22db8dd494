// The distributor under load, 50 connections, one `sealcode serve` process (the load
// generator runs here, on the other core). Side by side in one run, from the same server:
//   static         GET /static/same.xpi: a file of the dedicated XPI's size (the baseline)
//   download       GET /download/TOKEN: stamping a pre-granted redemption's XPI and
//                  completing it (resume lookup, stamp, serve, code → already_used)
//   redeem+dl      POST /redeem with a fresh code (exactly-once grant, build key and
//                  certificate, sealed profile) then GET its download: the whole path
// Every redemption consumes a code, so each run uses a fixed number of requests, and
// the codes and grants are made beforehand (not timed).
//   npm run bench:distributor [-- --connections 50 --n 1500 --rounds 3]
//   npm run bench:distributor -- --db postgres [--n 600]: 1, 2, 4 processes on PostgreSQL
//   beside 1 on SQLite (bench/distributor-postgres.ts)
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSeller, openSeller } from '../distributor/seller/seller.js';
import { getFreePort, waitForPort } from '../tests/support/ports.js';
import { benchStock, downloadRequests, redeemThenDownload } from './lib/distributor-requests.js';
import { median } from './lib/measure.js';

type Result = { requests: { average: number; total: number }; latency: { p50: number; p99: number; average: number }; throughput: { average: number; total: number }; duration: number; non2xx: number; errors: number };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const autocannon = createRequire(import.meta.url)('autocannon') as (o: any) => Promise<Result>;

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const connections = arg('connections', 50);
const n = arg('n', 1500);
const rounds = arg('rounds', 3);

// --db postgres: the multi-process comparison on PostgreSQL beside SQLite (its own file).
const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : undefined;
if (dbArg === 'postgres') {
  await (await import('./distributor-postgres.js')).main(arg('n', 600), connections);
  process.exit(0);
} else if (dbArg !== undefined) throw new Error('--db takes postgres (without it: one process on SQLite)');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-dist-'));
await initSeller(dir);
const seller = await openSeller(dir);
process.stderr.write(`preparing codes and grants for ${n} redemptions and ${n} downloads...\n`);
// Spares: the warm-ups, and autocannon setting up a few requests past each run's amount.
const { codes, tokens } = await benchStock(seller, n, 400 + 60 * rounds);
await seller.close();

const port = await getFreePort();
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(path.join(dir, 'static'));
// SEALCODE_BENCH_PROF=DIR writes a CPU profile of the server there.
const prof = process.env.SEALCODE_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SEALCODE_BENCH_PROF}`] : [];
const spawnedAt = performance.now();
const server = spawn(process.execPath, [...prof, path.join(here, '..', 'bin', 'sealcode.js'), 'serve', '--data', dir, '--port', String(port), '--static', path.join(dir, 'static'), '--resume-window', '3600'], {
  env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn', SEALCODE_LIMITS: JSON.stringify(Object.fromEntries(['redeemPerClient', 'redeemPerSerial', 'downloadPerClient'].map((k) => [k, { windowMs: 60_000, max: 1e9 }]))) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  await waitForPort(port, '127.0.0.1', 30_000);
  // The static baseline is a file of exactly the XPI's size.
  const xpi = Buffer.from(await (await fetch(`${base}/download/${tokens.pop()}`)).arrayBuffer());
  fs.writeFileSync(path.join(dir, 'static', 'same.xpi'), xpi);
  const page = await fetch(`${base}/`);
  const cookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;

  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  // CPU seconds spent by the server (from /proc) and by this load generator in each
  // run: on a shared, noisy machine, CPU per request is steadier than requests per second.
  const tick = 100; // USER_HZ on Linux
  const serverCpu = (): number => {
    try {
      const f = fs.readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return NaN;
    }
  };
  // How long the server's main thread sat runnable but not running (other processes on
  // the cores): the share of its latency that no change to the server can remove.
  const serverWait = (): number => {
    try {
      return Number(fs.readFileSync(`/proc/${server.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
    } catch {
      return NaN;
    }
  };
  const clientCpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  // One row's figures summed over its rounds.
  interface Row { name: string; per: number; requests: number; duration: number; server: number; client: number; wait: number; bad: number; bytes: number; p50: number[]; p99: number[] }
  const rows: Row[] = ['static file (same size)', 'download by token', 'redeem + download (2 requests)'].map((name, i) => ({ name, per: i === 2 ? 2 : 1, requests: 0, duration: 0, server: 0, client: 0, wait: 0, bad: 0, bytes: 0, p50: [], p99: [] }));
  // Where each run lies in the server's profile (seconds after its spawn, which is within
  // a few tenths of the profile's start), for cpuprofile-summary --from/--to.
  const windows: { title: string; from: string; to: string }[] = [];
  const since = () => ((performance.now() - spawnedAt) / 1000).toFixed(1);
  const run = async (title: string, o: object, into?: Row): Promise<Result> => {
    process.stderr.write(`${title}...\n`);
    const s0 = serverCpu();
    const c0 = clientCpu();
    const w0 = serverWait();
    const from = since();
    const r = await autocannon({ url: base, connections, ...o });
    windows.push({ title, from, to: since() });
    if (into) {
      into.requests += r.requests.total;
      into.duration += r.duration;
      into.server += serverCpu() - s0;
      into.client += clientCpu() - c0;
      into.wait += serverWait() - w0;
      into.bad += r.non2xx + r.errors;
      into.bytes += r.throughput.total;
      into.p50.push(r.latency.p50);
      into.p99.push(r.latency.p99);
    }
    return r;
  };
  // autocannon ignores a `path` option (it takes the URL's path), so the static file is
  // named in the URL: with `path` this row measured GET / (the 1.7 kB code page).
  const staticUrl = `${base}/static/same.xpi`;
  await run('warm-up: static', { amount: 500, url: staticUrl });
  await run('warm-up: download', { amount: 100, requests: downloadRequests(tokens) });
  await run('warm-up: redeem + download', { amount: 200, requests: redeemThenDownload(codes, cookie, csrf) });
  // The rows take turns, round after round: the other helpers' load on this machine
  // drifts over a run, and a row measured only at its start or end would carry that drift
  // into the ratio. Each round's ratio is printed; the rows sum their rounds.
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const per = Math.round(n / rounds);
    const st = await run(`round ${round}/${rounds}: static`, { amount: 2 * per, url: staticUrl }, rows[0]);
    await run(`round ${round}/${rounds}: download by token`, { amount: per, requests: downloadRequests(tokens) }, rows[1]);
    const full = await run(`round ${round}/${rounds}: redeem + download`, { amount: 2 * per, requests: redeemThenDownload(codes, cookie, csrf) }, rows[2]);
    ratios.push(full.requests.total / 2 / full.duration / (st.requests.total / st.duration));
  }

  const xpiSize = xpi.length;
  const check = await openSeller(dir);
  const used = (await check.db.value<number>("SELECT COUNT(*) FROM codes WHERE state = 'already_used'"))!;
  await check.close();

  const pad = (s: string | number, w: number) => String(s).padStart(w);
  const opsPerS = (r: Row) => r.requests / r.per / r.duration;
  const perOp = (r: Row, x: number) => ((x * 1000 * r.per) / r.requests).toFixed(2);
  console.log(`\nXPI size ${xpi.length} bytes, ${connections} connections, ${rounds} rounds, server: one process; codes already_used after the run: ${used}; load average before: ${load}, after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`${'what'.padEnd(32)}${pad('done', 7)}${pad('per s', 9)}${pad('MB/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('non-2xx', 9)}${pad('srv cpu ms', 12)}${pad('cli cpu ms', 12)}${pad('srv wait ms', 13)}${pad('B/resp', 8)}`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(32)}${pad(r.requests / r.per, 7)}${pad(opsPerS(r).toFixed(0), 9)}${pad(((opsPerS(r) * xpiSize) / 1e6).toFixed(1), 8)}${pad(median(r.p50), 8)}${pad(median(r.p99), 8)}${pad(r.bad, 9)}${pad(perOp(r, r.server), 12)}${pad(perOp(r, r.client), 12)}${pad(perOp(r, r.wait), 13)}${pad((r.bytes / r.requests).toFixed(0), 8)}`,
    );
  const s0 = opsPerS(rows[0]!);
  const [st, dl, full] = rows as [Row, Row, Row];
  console.log(`\ndownload by token:  ${((opsPerS(dl) / s0) * 100).toFixed(0)}% of static (target >= 50%), p99 ${median(dl.p99)} ms (target < 100 ms)`);
  console.log(`redeem + download: ${((opsPerS(full) / s0) * 100).toFixed(0)}% of static in completed downloads per second (target >= 80%; by round ${ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}), p99 per request ${median(full.p99)} ms against the static file's ${median(st.p99)} ms (target: no worse)`);
  console.log('(p50/p99: the median over rounds of each round\'s figure, per HTTP request; in the last row half are POST /redeem and half GET /download.)');
  console.log('(srv/cli cpu ms: CPU time of the server process and of this load generator per operation;');
  console.log(' srv wait ms: time the server\'s main thread was ready to run but had no core, per operation.)');
  if (prof.length) {
    console.log(`profile stretches of each run (npx tsx bench/lib/cpuprofile-summary.ts ${process.env.SEALCODE_BENCH_PROF}/CPU.*.0.001.cpuprofile 40 --from … --to …):\n  ${windows.map((w) => `${w.title}: --from ${w.from} --to ${w.to}`).join('\n  ')}`);
    for (const row of ['static', 'download by token', 'redeem + download']) {
      const ws = windows.filter((w) => w.title.startsWith('round') && w.title.endsWith(`: ${row}`));
      console.log(`  all rounds of ${row}: --from ${ws.map((w) => w.from).join(',')} --to ${ws.map((w) => w.to).join(',')}`);
    }
  }
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
