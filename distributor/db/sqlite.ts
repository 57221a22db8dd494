// The seller's SQLite database in a data folder (the embedded default), behind Store.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { LATEST_VERSION, MIGRATIONS, newerSchema } from './migrations.js';
import { chmodIfPresent, privateDir, privateFile } from './private-files.js';
import { txScope, type Param, type Store } from './store.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';

export const DB_FILE = 'sealcode.db';
// SQLite's default: a COMMIT that takes the log past this many pages checkpoints it.
const AUTO_CHECKPOINT_PAGES = 1000;

export interface SqliteOptions {
  /**
   * Checkpoint the write-ahead log from a worker thread rather than inside commits
   * (checkpointer.ts): for a serving process, whose commits then stop stalling requests.
   */
  checkpointInBackground?: boolean;
  /** How often that thread checkpoints (default 200 ms). */
  checkpointEveryMs?: number;
  /** Called if that thread stops by itself; commits checkpoint again from then on. */
  onCheckpointerStopped?: (err?: Error) => void;
}

export function openSqlite(dataDir: string, o: SqliteOptions = {}): SqliteStore {
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
  const store = new SqliteStore(db, file);
  if (o.checkpointInBackground) store.checkpointInBackground(o.checkpointEveryMs, o.onCheckpointerStopped);
  return store;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  // better-sqlite3 compiles SQL on every prepare(): on the redemption path that was a
  // larger cost than running the statements. Compiled statements are kept.
  private readonly cache = new Map<string, Database.Statement>();
  private readonly scope = txScope<true>();
  // One connection: while a transaction awaits, other requests of this process must not
  // slip their statements into it. Transactions queue here; lone statements wait for
  // the open one to end.
  private tail: Promise<void> = Promise.resolve();
  private checkpointer?: Checkpointer;

  constructor(
    private readonly db: Database.Database,
    readonly where: string,
  ) {}

  private stmt(sql: string, pluck: boolean): Database.Statement {
    const key = pluck ? `pluck\0${sql}` : sql;
    let s = this.cache.get(key);
    if (!s) this.cache.set(key, (s = pluck ? this.db.prepare(sql).pluck() : this.db.prepare(sql)));
    return s;
  }

  private async outside<T>(f: () => T): Promise<T> {
    if (!this.scope.getStore()) while (this.db.inTransaction) await this.tail;
    return f();
  }

  all<T>(sql: string, ...p: Param[]): Promise<T[]> {
    return this.outside(() => this.stmt(sql, false).all(...p) as T[]);
  }
  get<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return this.outside(() => this.stmt(sql, false).get(...p) as T | undefined);
  }
  getForUpdate<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return this.get<T>(sql, ...p);
  }
  value<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return this.outside(() => this.stmt(sql, true).get(...p) as T | undefined);
  }
  column<T>(sql: string, ...p: Param[]): Promise<T[]> {
    return this.outside(() => this.stmt(sql, true).all(...p) as T[]);
  }
  run(sql: string, ...p: Param[]): Promise<number> {
    return this.outside(() => this.stmt(sql, false).run(...p).changes);
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.scope.getStore()) return fn();
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    try {
      await before;
      return await this.scope.run(true, async () => {
        // IMMEDIATE takes the write lock first, so two processes cannot both read a
        // code as unused and then both write.
        this.db.exec('BEGIN IMMEDIATE');
        try {
          const out = await fn();
          this.db.exec('COMMIT');
          return out;
        } catch (e) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw e;
        }
      });
    } finally {
      release();
    }
  }

  async schemaVersion(): Promise<number> {
    const has = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!has) return 0;
    return (this.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  }

  async migrate(): Promise<number> {
    const have = await this.schemaVersion();
    if (have > LATEST_VERSION) throw newerSchema(this.where, have);
    if (have === LATEST_VERSION) return have;
    const db = this.db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    db.transaction(() => {
      const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      }
    }).immediate();
    return LATEST_VERSION;
  }

  /** See SqliteOptions.checkpointInBackground. */
  checkpointInBackground(everyMs?: number, onStopped?: (err?: Error) => void): void {
    this.db.pragma('wal_autocheckpoint = 0');
    this.checkpointer = startCheckpointer(
      this.where,
      (err) => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
        onStopped?.(err);
      },
      everyMs,
    );
  }

  async ping(): Promise<boolean> {
    return this.db.open;
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }
}
