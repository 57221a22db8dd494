// The seller's storage: one small async query interface over SQLite (the embedded
// default) and PostgreSQL (several `serve` processes on one database). The seller logic
// is written once against it. SQL is written with `?` placeholders in the subset both
// databases share (ON CONFLICT, partial indexes, COALESCE, LIMIT); the PostgreSQL side
// numbers the placeholders. That keeps every statement where it is used and readable,
// instead of a layer of one named method per statement. What differs is inside:
// transactions (IMMEDIATE on SQLite; row locks and retry on PostgreSQL) and the types
// of values read back.
import { AsyncLocalStorage } from 'node:async_hooks';

export type Param = string | number | bigint | null | Uint8Array;
export type DbKind = 'sqlite' | 'postgres';

export interface Store {
  readonly kind: DbKind;
  /** Where the data lives, safe to print: a file path, or a URL without its password. */
  readonly where: string;
  all<T = Record<string, unknown>>(sql: string, ...params: Param[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, ...params: Param[]): Promise<T | undefined>;
  /** The first column of the first row. */
  value<T = unknown>(sql: string, ...params: Param[]): Promise<T | undefined>;
  /** The first column of every row. */
  column<T = unknown>(sql: string, ...params: Param[]): Promise<T[]>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, ...params: Param[]): Promise<number>;
  /**
   * As get(), and the row stays locked against other writers until the transaction
   * ends (SELECT … FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction already
   * holds the whole database).
   */
  getForUpdate<T = Record<string, unknown>>(sql: string, ...params: Param[]): Promise<T | undefined>;
  /**
   * Runs `fn` as one transaction: every query made inside it (however deeply awaited)
   * joins it, a nested tx() joins the outer one, and a throw rolls all of it back. On
   * PostgreSQL `fn` may run more than once (a deadlock is retried), so it must have no
   * effect outside the database; and it sees other transactions' commits statement by
   * statement, so it must lock (getForUpdate) the row its decision rests on first.
   */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** The highest migration applied, 0 on an empty database. */
  schemaVersion(): Promise<number>;
  /** Applies the missing migrations; refuses a schema newer than this program knows. */
  migrate(): Promise<number>;
  /** Whether the database answers now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Which transaction (if any) the running async code is in, per store. */
export function txScope<C>(): AsyncLocalStorage<C> {
  return new AsyncLocalStorage<C>();
}

/** PostgreSQL connection URLs select PostgreSQL; anything else is refused by the caller. */
export const isPostgresUrl = (s: string): boolean => /^postgres(ql)?:\/\//i.test(s);

/** The URL with any password replaced, for logs, errors and --json output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

/** Replaces `?` placeholders with $1, $2, … (our SQL never has `?` inside literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
