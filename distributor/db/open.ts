// Opens (and on first use creates) the seller's SQLite database in a data folder.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { MIGRATIONS } from './migrations.js';
import { chmodIfPresent, privateDir, privateFile } from './private-files.js';

export type Db = Database.Database;
export const DB_FILE = 'sealcode.db';

export function openDatabase(dataDir: string): Db {
  privateDir(dataDir);
  const file = join(dataDir, DB_FILE);
  // SQLite gives the -wal and -shm files the database file's mode when it makes them.
  privateFile(file);
  for (const side of ['-wal', '-shm']) chmodIfPresent(file + side);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Several distributor processes may share the file: wait for the write lock rather
  // than fail, and keep transactions short.
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const run = db.transaction(() => {
    const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
  });
  run.immediate();
}

// better-sqlite3 compiles SQL on every prepare(): on the redemption path that was a
// larger cost than running the statements. Compiled statements are kept per handle.
const cached = new WeakMap<Db, Map<string, Database.Statement>>();

/** The prepared statement for `sql` on this handle, compiled once. */
export function stmt(db: Db, sql: string): Database.Statement {
  let m = cached.get(db);
  if (!m) cached.set(db, (m = new Map()));
  let s = m.get(sql);
  if (!s) m.set(sql, (s = db.prepare(sql)));
  return s;
}

/** As stmt(), returning the first column only (a separate statement: pluck is sticky). */
export function pluckStmt(db: Db, sql: string): Database.Statement {
  let m = cached.get(db);
  if (!m) cached.set(db, (m = new Map()));
  const key = `pluck\0${sql}`;
  let s = m.get(key);
  if (!s) m.set(key, (s = db.prepare(sql).pluck()));
  return s;
}
