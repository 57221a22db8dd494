// Which database a command works on: `--db URL` / SEALCODE_DB naming PostgreSQL, or
// else the SQLite file in the data folder.
import { SealError } from '../../card/index.js';
import type { PostgresOptions } from './postgres.js';
import { openSqlite, type SqliteOptions } from './sqlite.js';
import { isPostgresUrl, redactUrl, type Store } from './store.js';

/** The --db option, else SEALCODE_DB; undefined means the SQLite file in the data folder. */
export function dbUrlOf(option: string | undefined): string | undefined {
  const url = option ?? process.env.SEALCODE_DB;
  if (url === undefined || url === '') return undefined;
  if (!isPostgresUrl(url)) throw new SealError('USAGE', `--db / SEALCODE_DB must be a postgres:// URL (got ${redactUrl(url)}); leave it out for the SQLite file in --data`);
  return url;
}

/** The `pg` driver is loaded only when a URL names PostgreSQL: SQLite commands never pay for it. */
export async function openStore(dataDir: string, dbUrl: string | undefined, o: PostgresOptions & SqliteOptions = {}): Promise<Store> {
  if (!dbUrl) return openSqlite(dataDir, o);
  const { openPostgres } = await import('./postgres.js');
  return openPostgres(dbUrl, o);
}
