// Smoke test of tests/support/postgres.ts: a real PostgreSQL 15 in a temp folder, fresh
// databases that do not see each other, and a restart on the same port with the data kept.
import { describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import pg from 'pg';
import { sharedPostgres } from '../support/databases.js';

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('throwaway PostgreSQL', () => {
  it('runs as a non-root user, in its own folder, on loopback', async () => {
    const s = await sharedPostgres();
    const [row] = (await query(s.url(), "SELECT current_setting('server_version_num') AS v, current_setting('listen_addresses') AS l")) as { v: string; l: string }[];
    expect(Number(row!.v)).toBeGreaterThanOrEqual(150000);
    expect(row!.l).toBe('127.0.0.1');
    if (process.getuid?.() === 0) expect(statSync(s.dir).uid).not.toBe(0);
  });

  it('gives each test a separate empty database, and keeps data across a restart', async () => {
    const s = await sharedPostgres();
    const a = await s.freshDatabase();
    const b = await s.freshDatabase();
    await query(a, 'CREATE TABLE t (x int); INSERT INTO t VALUES (7)');
    await expect(query(b, 'SELECT * FROM t')).rejects.toThrow(/does not exist/);
    s.restart();
    expect(await query(a, 'SELECT x FROM t')).toEqual([{ x: 7 }]);
  });
});
