// The distributor under load, 50 connections, one `sealcode serve` process (the load
// generator runs here, on the other core). Side by side in one run, from the same server:
//   static         GET /static/same.xpi: a file of the dedicated XPI's size (the baseline)
//   download       GET /download/TOKEN: stamping a pre-granted redemption's XPI and
//                  completing it (resume lookup, stamp, serve, code → already_used)
//   redeem+dl      POST /redeem with a fresh code (exactly-once grant, build key and
//                  certificate, sealed profile) then GET its download: the whole path
// Every redemption consumes a code, so each run uses a fixed number of requests, and
// the codes and grants are made beforehand (not timed).
//   npm run bench:distributor [-- --connections 50 --n 1500]
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

// --db postgres: the multi-process comparison on PostgreSQL beside SQLite (its own file).
const dbArg = process.argv.includes('--db') ? process.argv[process.argv.indexOf('--db') + 1] : undefined;
if (dbArg === 'postgres') {
  await (await import('./distributor-postgres.js')).main(arg('n', 600), connections);
  process.exit(0);
} else if (dbArg !== undefined) throw new Error('--db takes postgres (without it: one process on SQLite)');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-dist-'));
await initSeller(dir);
const seller = await openSeller(dir);
process.stderr.write(`preparing ${2 * (n + 100)} codes and ${n + 100} grants...\n`);
const { codes, tokens } = await benchStock(seller, n);
await seller.close();

const port = await getFreePort();
const base = `http://127.0.0.1:${port}`;
fs.mkdirSync(path.join(dir, 'static'));
// SEALCODE_BENCH_PROF=DIR writes a CPU profile of the server there.
const prof = process.env.SEALCODE_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SEALCODE_BENCH_PROF}`] : [];
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
  const clientCpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const cpu = new Map<Result, { server: number; client: number }>();
  const run = async (title: string, o: object): Promise<Result> => {
    process.stderr.write(`${title}...\n`);
    const s0 = serverCpu();
    const c0 = clientCpu();
    const r = await autocannon({ url: base, connections, ...o });
    cpu.set(r, { server: serverCpu() - s0, client: clientCpu() - c0 });
    return r;
  };
  // autocannon ignores a `path` option (it takes the URL's path), so the static file is
  // named in the URL: with `path` this row measured GET / (the 1.7 kB code page).
  await run('warm-up', { amount: 500, url: `${base}/static/same.xpi` });
  const stat = await run('static', { amount: 2 * n, url: `${base}/static/same.xpi` });
  const download = await run('download by token', { amount: n, requests: downloadRequests(tokens) });
  const full = await run('redeem + download', { amount: 2 * n, requests: redeemThenDownload(codes, cookie, csrf) });

  const xpiSize = xpi.length;
  const check = await openSeller(dir);
  const used = (await check.db.value<number>("SELECT COUNT(*) FROM codes WHERE state = 'already_used'"))!;
  await check.close();

  const row = (name: string, r: Result, per = 1) => ({
    name,
    ops: r.requests.total / per,
    opsPerS: r.requests.total / per / r.duration,
    mbPerS: (r.requests.total / per / r.duration) * xpiSize / 1e6,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bad: r.non2xx + r.errors,
    bytesPerResponse: r.throughput.total / r.requests.total,
    serverMs: (cpu.get(r)!.server * 1000 * per) / r.requests.total,
    clientMs: (cpu.get(r)!.client * 1000 * per) / r.requests.total,
  });
  const rows = [row('static file (same size)', stat), row('download by token', download), row('redeem + download (2 requests)', full, 2)];
  const pad = (s: string | number, w: number) => String(s).padStart(w);
  console.log(`\nXPI size ${xpi.length} bytes, ${connections} connections, server: one process; codes already_used after the run: ${used}; load average before: ${load}`);
  console.log(`${'what'.padEnd(32)}${pad('done', 7)}${pad('per s', 9)}${pad('MB/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('non-2xx', 9)}${pad('srv cpu ms', 12)}${pad('cli cpu ms', 12)}${pad('B/resp', 8)}`);
  for (const r of rows) console.log(`${r.name.padEnd(32)}${pad(r.ops, 7)}${pad(r.opsPerS.toFixed(0), 9)}${pad(r.mbPerS.toFixed(1), 8)}${pad(r.p50, 8)}${pad(r.p99, 8)}${pad(r.bad, 9)}${pad(r.serverMs.toFixed(2), 12)}${pad(r.clientMs.toFixed(2), 12)}${pad(r.bytesPerResponse.toFixed(0), 8)}`);
  const s0 = rows[0]!.opsPerS;
  console.log(`\ndownload by token:  ${((rows[1]!.opsPerS / s0) * 100).toFixed(0)}% of static (target >= 50%), p99 ${rows[1]!.p99} ms (target < 100 ms)`);
  console.log(`redeem + download: ${((rows[2]!.opsPerS / s0) * 100).toFixed(0)}% of static in completed downloads per second, p99 per request ${rows[2]!.p99} ms`);
  console.log('(p50/p99 are per HTTP request; in the last row half are POST /redeem and half GET /download.)');
  console.log('(srv/cli cpu ms: CPU time of the server process and of this load generator per operation.)');
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
