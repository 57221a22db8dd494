// A serving process's SQLite log is copied back into the database file by a worker
// thread, never inside a commit on the event loop (distributor/db/checkpointer.ts). The
// database file's size shows when that happened: new pages reach it only by a checkpoint.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, DB_FILE, type SqliteOptions } from '../../distributor/db/sqlite.js';
import { startCheckpointer } from '../../distributor/db/checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function store(o: SqliteOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'sealcode-ckpt-'));
  dirs.push(dir);
  const db = openSqlite(dir, o);
  await db.run('CREATE TABLE t (b BLOB NOT NULL)');
  // Let the table itself reach the file before measuring what the writes below add.
  await db.close();
  const again = openSqlite(dir, o);
  return { db: again, size: () => statSync(join(dir, DB_FILE)).size };
}

// 1200 pages of 4 KiB in one commit: past the 1000 pages at which a commit would
// checkpoint by itself.
async function writeManyPages(db: Awaited<ReturnType<typeof store>>['db']): Promise<void> {
  await db.tx(async () => {
    for (let i = 0; i < 1200; i++) await db.run('INSERT INTO t (b) VALUES (?)', new Uint8Array(4000).fill(i & 0xff));
  });
}

describe('background checkpoints (SQLite)', () => {
  it('without them, the commit that fills the log checkpoints on the spot (the cost they remove)', async () => {
    const { db, size } = await store({});
    const before = size();
    await writeManyPages(db);
    expect(size()).toBeGreaterThan(before + 1000 * 4096);
    await db.close();
  });

  it('with them, commits leave the database file alone and the worker thread copies the log in', async () => {
    // A long interval: nothing but the last checkpoint of stop() runs during the test.
    const { db, size } = await store({ checkpointInBackground: true, checkpointEveryMs: 60_000 });
    const before = size();
    await writeManyPages(db);
    expect(size()).toBe(before);
    expect(await db.value('SELECT COUNT(*) FROM t')).toBe(1200);
    await db.close();
    expect(size()).toBeGreaterThan(before + 1000 * 4096);
  });

  it('the worker checkpoints on its own while the store stays open', async () => {
    const { db, size } = await store({ checkpointInBackground: true, checkpointEveryMs: 50 });
    const before = size();
    await writeManyPages(db);
    for (const until = Date.now() + 10_000; size() <= before + 1000 * 4096 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(size()).toBeGreaterThan(before + 1000 * 4096);
    await db.close();
  });

  it('a worker that cannot run reports why to the store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealcode-ckpt-'));
    dirs.push(dir);
    const stopped = await new Promise<Error | undefined>((resolve) => startCheckpointer(join(dir, 'missing.db'), resolve));
    expect(stopped?.message).toMatch(/SQLITE_CANTOPEN: unable to open database file/);
  });

  it('when its worker stops by itself, the store is told and its commits checkpoint again', async () => {
    const { db: first } = await store({});
    const dir = dirs.at(-1)!;
    await first.close();
    let told: (err?: Error) => void = () => {};
    const stopped = new Promise<Error | undefined>((resolve) => (told = resolve));
    const db = openSqlite(dir, { checkpointInBackground: true, checkpointEveryMs: 60_000, onCheckpointerStopped: (err) => told(err) });
    // The worker thread opens the file by name a few milliseconds later; by then it is
    // gone (the store keeps its open file), so the thread fails as it would on any error.
    const moved = join(dir, 'moved.db');
    renameSync(join(dir, DB_FILE), moved);
    expect((await stopped)?.message).toMatch(/SQLITE_CANTOPEN/);
    const before = statSync(moved).size;
    await writeManyPages(db);
    expect(statSync(moved).size).toBeGreaterThan(before + 1000 * 4096);
    await db.close();
  });

  it('a worker asked to stop is not reported as stopped by itself', async () => {
    let told = false;
    const { db } = await store({ checkpointInBackground: true, onCheckpointerStopped: () => (told = true) });
    await db.close();
    expect(told).toBe(false);
  });
});
