// `npm run bench:distributor -- --db postgres`: redemption and download throughput with
// 1, 2 and 4 `sealcode serve` processes on one PostgreSQL, beside one process on SQLite,
// in one run on this machine. The load is split evenly over the processes (one load
// generator per process, in this process); each scenario gets a fresh database and
// codes and grants made beforehand (not timed).
//   download     GET /download/TOKEN of a pre-granted redemption (resume lookup, stamp,
//                serve, complete: code → already_used)
//   redeem+dl    POST /redeem with a fresh code, then GET its download: the whole path
// PostgreSQL runs here (tests/support/postgres.ts) with fsync on and synchronous_commit
// off, the nearest match to SQLite's WAL with synchronous=NORMAL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initSeller, openSeller } from '../distributor/seller/seller.js';
import { getFreePort, waitForPort } from '../tests/support/ports.js';
import { startPostgres, type Postgres } from '../tests/support/postgres.js';
import { benchStock, downloadRequests, redeemThenDownload } from './lib/distributor-requests.js';

type Result = { requests: { total: number }; latency: { p99: number }; duration: number; non2xx: number; errors: number };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const autocannon = createRequire(import.meta.url)('autocannon') as (o: any) => Promise<Result>;
const here = path.dirname(fileURLToPath(import.meta.url));
const LIMITS = JSON.stringify(Object.fromEntries(['redeemPerClient', 'redeemPerSerial', 'downloadPerClient'].map((k) => [k, { windowMs: 60_000, max: 1e9 }])));

interface Scenario {
  name: string;
  db: 'sqlite' | 'postgres';
  procs: number;
}
interface Row {
  scenario: Scenario;
  download: { perS: number; p99: number; bad: number };
  full: { perS: number; p99: number; bad: number };
  used: number;
}

/** Runs one autocannon per process at once; the sum of requests over the longest duration. */
async function spread(bases: string[], connections: number, amount: number, per: () => object) {
  const rs = await Promise.all(bases.map((url) => autocannon({ url, connections: Math.max(1, Math.round(connections / bases.length)), amount: Math.round(amount / bases.length), ...per() })));
  const total = rs.reduce((n, r) => n + r.requests.total, 0);
  return { total, duration: Math.max(...rs.map((r) => r.duration)), p99: Math.max(...rs.map((r) => r.latency.p99)), bad: rs.reduce((n, r) => n + r.non2xx + r.errors, 0) };
}

async function run(s: Scenario, pg: Postgres, n: number, connections: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-pg-'));
  const dbUrl = s.db === 'postgres' ? await pg.freshDatabase() : undefined;
  const procs: ChildProcess[] = [];
  try {
    await initSeller(dir, { dbUrl });
    const seller = await openSeller(dir, { dbUrl });
    const { codes, tokens } = await benchStock(seller, n);
    await seller.close();
    const ports = await Promise.all(Array.from({ length: s.procs }, () => getFreePort()));
    for (const port of ports) {
      const p = spawn(process.execPath, [path.join(here, '..', 'bin', 'sealcode.js'), 'serve', '--data', dir, '--port', String(port), '--resume-window', '3600', ...(dbUrl ? ['--db', dbUrl] : [])], {
        env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn', SEALCODE_LIMITS: LIMITS },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      procs.push(p);
    }
    await Promise.all(ports.map((p) => waitForPort(p, '127.0.0.1', 30_000)));
    const bases = ports.map((p) => `http://127.0.0.1:${p}`);
    // The CSRF cookie and token of one process hold on all: the key is in the database.
    const page = await fetch(`${bases[0]}/`);
    const cookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    process.stderr.write(`${s.name}: download by token...\n`);
    const dlRequests = downloadRequests(tokens);
    const dl = await spread(bases, connections, n, () => ({ requests: dlRequests }));
    process.stderr.write(`${s.name}: redeem + download...\n`);
    // One list for all processes: they take the next code in turn.
    const fullRequests = redeemThenDownload(codes, cookie, csrf);
    const full = await spread(bases, connections, 2 * n, () => ({ requests: fullRequests }));
    // A download is recorded complete just after its last byte leaves: wait (up to 5 s)
    // for the last of those writes before counting.
    const check = await openSeller(dir, { dbUrl });
    let used = 0;
    for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 100)))
      if ((used = (await check.db.value<number>("SELECT COUNT(*) FROM codes WHERE state = 'already_used'"))!) >= 2 * n) break;
    await check.close();
    return {
      scenario: s,
      download: { perS: dl.total / dl.duration, p99: dl.p99, bad: dl.bad },
      full: { perS: full.total / 2 / full.duration, p99: full.p99, bad: full.bad },
      used,
    };
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(n: number, connections: number): Promise<void> {
  const scenarios: Scenario[] = [
    { name: 'SQLite, 1 process', db: 'sqlite', procs: 1 },
    { name: 'PostgreSQL, 1 process', db: 'postgres', procs: 1 },
    { name: 'PostgreSQL, 2 processes', db: 'postgres', procs: 2 },
    { name: 'PostgreSQL, 4 processes', db: 'postgres', procs: 4 },
  ];
  const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  const pg = await startPostgres({ durable: true });
  const rows: Row[] = [];
  try {
    for (const s of scenarios) rows.push(await run(s, pg, n, connections));
  } finally {
    pg.dispose();
  }
  const pad = (v: string | number, w: number) => String(v).padStart(w);
  console.log(`\n${n} downloads and ${n} redemptions per scenario, ${connections} connections split over the processes; ${os.cpus().length} CPUs; load average before: ${load}`);
  console.log(`${'scenario'.padEnd(26)}${pad('redeem+dl/s', 13)}${pad('p99 ms', 8)}${pad('download/s', 12)}${pad('p99 ms', 8)}${pad('non-2xx', 9)}${pad('used', 6)}${pad('vs SQLite', 11)}`);
  const ref = rows[0]!.full.perS;
  for (const r of rows)
    console.log(
      `${r.scenario.name.padEnd(26)}${pad(r.full.perS.toFixed(0), 13)}${pad(r.full.p99, 8)}${pad(r.download.perS.toFixed(0), 12)}${pad(r.download.p99, 8)}${pad(r.full.bad + r.download.bad, 9)}${pad(r.used, 6)}${pad(((r.full.perS / ref) * 100).toFixed(0) + '%', 11)}`,
    );
  const one = rows[1]!.full.perS;
  console.log(`\nPostgreSQL scaling of redeem+dl: 2 processes ${(rows[2]!.full.perS / one).toFixed(2)}x, 4 processes ${(rows[3]!.full.perS / one).toFixed(2)}x one process (on ${os.cpus().length} CPUs shared with the load generator and the database).`);
  console.log('("used": codes already_used after the scenario; each completed download uses one.)');
}
