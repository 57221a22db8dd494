// A throwaway PostgreSQL 15 server (Debian's `postgresql` package): initdb + pg_ctl into a
// temp folder, listening on a free loopback port with its unix socket in that folder.
// As root the server runs as the `postgres` user (PostgreSQL refuses to run as root),
// the folder chowned to it; otherwise as the current user. One server per test file;
// each test takes a fresh database (CREATE DATABASE … TEMPLATE template0), which costs
// milliseconds where a server costs a second or two.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { getFreePort } from './ports.js';

export const PG_BIN = process.env.SEALCODE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const SUPERUSER = 'sealcode';

export interface Postgres {
  port: number;
  dir: string;
  /** A connection URL for one database of this server. */
  url(database?: string): string;
  /** A new empty database; resolves to its URL. */
  freshDatabase(): Promise<string>;
  /** pg_ctl stop (fast: running transactions are rolled back, clients disconnected). */
  stop(): void;
  start(): void;
  restart(): void;
  log(): string;
  dispose(): void;
}

function asOwner(uid: number | undefined, cmd: string, args: string[]): string {
  const full = uid === undefined ? [cmd, ...args] : ['runuser', '-u', 'postgres', '--', cmd, ...args];
  return execFileSync(full[0]!, full.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface PostgresOptions {
  /** fsync on (the bench: figures for a server that keeps what it commits); tests turn it off. */
  durable?: boolean;
}

export async function startPostgres(o: PostgresOptions = {}): Promise<Postgres> {
  if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`${PG_BIN}/initdb is missing: install the postgresql package (scripts/ensure-system-deps.sh does)`);
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(root ? '/tmp' : tmpdir(), 'sealcode-pg-'));
  let uid: number | undefined;
  if (root) {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  // Trust on loopback and the private socket only: a test server, gone after the run.
  asOwner(uid, join(PG_BIN, 'initdb'), ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await getFreePort();
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    // Speed for throwaway data; durability across pg_ctl stop/start is unaffected. The
    // bench keeps fsync (and, like SQLite's WAL with synchronous=NORMAL, does not wait
    // for the log flush at each commit).
    ...(o.durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    '-c synchronous_commit=off',
  ].join(' ');
  const ctl = (...args: string[]) => asOwner(uid, join(PG_BIN, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '60', ...args]);
  ctl('start');
  let running = true;
  let n = 0;
  const url = (database = 'postgres') => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
  return {
    port,
    dir,
    url,
    async freshDatabase() {
      const name = `t${process.pid}_${++n}_${Date.now() % 100000}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE template0`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stop() {
      if (!running) return;
      ctl('stop', '-m', 'fast');
      running = false;
    },
    start() {
      if (running) return;
      ctl('start');
      running = true;
    },
    restart() {
      ctl('restart', '-m', 'fast');
      running = true;
    },
    log() {
      try {
        return execFileSync('cat', [logFile], { encoding: 'utf8' });
      } catch {
        return '';
      }
    },
    dispose() {
      try {
        if (running) ctl('stop', '-m', 'immediate');
      } catch {
        // already gone
      }
      running = false;
      if (!process.env.SEALCODE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
