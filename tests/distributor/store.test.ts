// The storage interface itself (distributor/db/), on a real SQLite file and a real
// PostgreSQL database: transactions that awaited queries join, that do not interleave
// within a process, that roll back whole, that a deadlock retries; values read back
// alike on both; database URLs printed without their password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, dbUrlOf } from '../../distributor/db/open.js';
import { redactUrl, numberPlaceholders, type Store } from '../../distributor/db/store.js';
import { BACKENDS, freshDb } from '../support/databases.js';

describe.each(BACKENDS)('the store on %s', (backend) => {
  let dir: string;
  let db: Store;
  let url: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sealcode-store-'));
    url = await freshDb(backend);
    db = await openStore(dir, url);
    await db.migrate();
    await db.run('CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, b ' + (backend === 'postgres' ? 'BYTEA' : 'BLOB') + ')');
    await db.run("INSERT INTO t (k, n, b) VALUES ('a', 0, ?), ('b', 0, NULL)", new Uint8Array([1, 2, 3]));
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads back numbers as numbers and bytes as bytes', async () => {
    await db.run('UPDATE t SET n = ? WHERE k = ?', 1_733_000_000_123, 'b');
    expect(await db.get('SELECT k, n, b FROM t WHERE k = ?', 'a')).toEqual({ k: 'a', n: 0, b: Buffer.from([1, 2, 3]) });
    expect(await db.value('SELECT n FROM t WHERE k = ?', 'b')).toBe(1_733_000_000_123);
    expect(await db.value('SELECT COUNT(*) FROM t')).toBe(2);
    expect(await db.value('SELECT COALESCE(SUM(n), 0) FROM t')).toBe(1_733_000_000_123);
    expect(await db.column('SELECT k FROM t ORDER BY k')).toEqual(['a', 'b']);
    expect(await db.get('SELECT * FROM t WHERE k = ?', 'nobody')).toBeUndefined();
  });

  it('read-modify-write transactions started at once never lose an update', async () => {
    await db.run('UPDATE t SET n = 0');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.tx(async () => {
          const n = (await db.getForUpdate<{ n: number }>('SELECT n FROM t WHERE k = ?', 'a'))!.n;
          await new Promise((r) => setTimeout(r, 1));
          await db.run('UPDATE t SET n = ? WHERE k = ?', n + 1, 'a');
        }),
      ),
    );
    expect(await db.value('SELECT n FROM t WHERE k = ?', 'a')).toBe(20);
  });

  it('a throw rolls back every statement, nested transactions included', async () => {
    await expect(
      db.tx(async () => {
        await db.run('UPDATE t SET n = 100 WHERE k = ?', 'a');
        await db.tx(() => db.run('UPDATE t SET n = 100 WHERE k = ?', 'b'));
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await db.value('SELECT MAX(n) FROM t')).toBeLessThan(100);
  });

  if (backend === 'postgres')
    it('a deadlock between two processes is retried until both commit', async () => {
      const other = await openStore(dir, url);
      try {
        let runs = 0;
        let release!: () => void;
        const bothLocked = new Promise<void>((r) => (release = r));
        let locked = 0;
        const lockBoth = (s: Store, first: string, second: string) =>
          s.tx(async () => {
            runs++;
            await s.getForUpdate('SELECT k FROM t WHERE k = ?', first);
            if (++locked === 2) release();
            await bothLocked;
            await s.getForUpdate('SELECT k FROM t WHERE k = ?', second);
            await s.run('UPDATE t SET n = n + 1 WHERE k = ?', first);
          });
        await Promise.all([lockBoth(db, 'a', 'b'), lockBoth(other, 'b', 'a')]);
        expect(runs).toBe(3);
      } finally {
        await other.close();
      }
    });
});

describe('database URLs', () => {
  it('are printed without their password, and only postgres:// is taken', () => {
    expect(redactUrl('postgres://seller:s3cret@db.example:5432/sealcode?sslmode=require')).toBe('postgres://seller:***@db.example:5432/sealcode?sslmode=require');
    expect(redactUrl('postgres://db.example/sealcode?password=s3cret')).toBe('postgres://db.example/sealcode?password=***');
    expect(redactUrl('not a url s3cret')).not.toContain('s3cret');
    expect(() => dbUrlOf('mysql://u:s3cret@h/x')).toThrow(/must be a postgres:\/\/ URL \(got mysql:\/\/u:\*\*\*@h\/x\)/);
    expect(dbUrlOf('postgresql://h/x')).toBe('postgresql://h/x');
    expect(numberPlaceholders('SELECT ? , ?, ?')).toBe('SELECT $1 , $2, $3');
  });
});
