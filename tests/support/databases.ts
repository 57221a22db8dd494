// The databases every seller test runs on: the SQLite file of a data folder, and a
// database of this test file's PostgreSQL server (tests/support/postgres.ts), started on
// first use and stopped when the file is done.
import { afterAll } from 'vitest';
import { startPostgres, type Postgres } from './postgres.js';

let shared: Promise<Postgres> | undefined;
// One server per test file (vitest loads this module afresh for each file), stopped
// when the file is done; only started when a test asks for it.
afterAll(async () => {
  if (!shared) return;
  const s = await shared.catch(() => undefined);
  shared = undefined;
  s?.dispose();
});

/** This test file's PostgreSQL server, started on first use. */
export const sharedPostgres = (): Promise<Postgres> => (shared ??= startPostgres());

export type Backend = 'sqlite' | 'postgres';
/** Every seller test runs on both: the embedded default and PostgreSQL. */
export const BACKENDS: Backend[] = ['sqlite', 'postgres'];

/** A new empty database of this backend: a postgres:// URL, or undefined for the data folder's SQLite file. */
export async function freshDb(backend: Backend): Promise<string | undefined> {
  return backend === 'postgres' ? (await sharedPostgres()).freshDatabase() : undefined;
}
