// The seller's database on PostgreSQL (node-postgres with a pool), behind Store, for
// several `serve` processes on several hosts. Transactions run READ COMMITTED and take a
// row lock (SELECT … FOR UPDATE) on what they decide on before deciding: the code being
// redeemed or settled, the challenge being burnt, the card being sold codes, the code
// whose copy rights are counted, the confirmation token. Each later statement then sees
// what the previous holder of the lock committed. (SERIALIZABLE gave the same answers,
// but its predicate locks on the redemptions index made concurrent grants of *different*
// codes fail and retry, which cost more than the grants.) A deadlock or serialization
// failure is retried from the start.
import pg from 'pg';
import { LATEST_VERSION, MIGRATIONS, forPostgres, newerSchema } from './migrations.js';
import { numberPlaceholders, redactUrl, txScope, type Param, type Store } from './store.js';

const INT8 = 20;
const NUMERIC = 1700;
// Times are milliseconds and counts are small: both fit a double exactly, and the
// seller code (like better-sqlite3) expects numbers, not the strings pg gives by default.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 40;

export interface PostgresOptions {
  /** Connections per process (default 10). */
  poolSize?: number;
  /** Called with errors of idle connections (a restarted server), which are otherwise fatal. */
  onIdleError?: (err: Error) => void;
}

export function openPostgres(url: string, o: PostgresOptions = {}): PostgresStore {
  const pool = new pg.Pool({
    connectionString: url,
    max: o.poolSize ?? 10,
    types,
    // A request fails (and says so) rather than waits forever while the server is away.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => o.onIdleError?.(err));
  return new PostgresStore(pool, redactUrl(url));
}

type Queryable = pg.Pool | pg.PoolClient;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly scope = txScope<pg.PoolClient>();
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly pool: pg.Pool,
    readonly where: string,
  ) {}

  private text(sql: string): string {
    let t = this.texts.get(sql);
    if (!t) this.texts.set(sql, (t = numberPlaceholders(sql)));
    return t;
  }

  private on(): Queryable {
    return this.scope.getStore() ?? this.pool;
  }

  private async rows<T>(sql: string, p: Param[]): Promise<T[]> {
    return (await this.on().query(this.text(sql), p)).rows as T[];
  }

  private async firstColumn<T>(sql: string, p: Param[]): Promise<T[]> {
    const r = await this.on().query({ text: this.text(sql), values: p, rowMode: 'array' });
    return (r.rows as unknown[][]).map((row) => row[0] as T);
  }

  all<T>(sql: string, ...p: Param[]): Promise<T[]> {
    return this.rows<T>(sql, p);
  }
  async get<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return (await this.rows<T>(sql, p))[0];
  }
  getForUpdate<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return this.get<T>(`${sql} FOR UPDATE`, ...p);
  }
  async value<T>(sql: string, ...p: Param[]): Promise<T | undefined> {
    return (await this.firstColumn<T>(sql, p))[0];
  }
  column<T>(sql: string, ...p: Param[]): Promise<T[]> {
    return this.firstColumn<T>(sql, p);
  }
  async run(sql: string, ...p: Param[]): Promise<number> {
    return (await this.on().query(this.text(sql), p)).rowCount ?? 0;
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.scope.getStore()) return fn();
    for (let attempt = 1; ; attempt++) {
      const client = await this.checkout();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await this.scope.run(client, fn);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch (re) {
          broken = re as Error; // the connection is gone: drop it from the pool
        }
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      } finally {
        client.release(broken);
      }
      // Retried after a pause, the connection back in the pool meanwhile.
      await sleep(Math.random() * Math.min(100, 2 * attempt ** 2));
    }
  }

  async schemaVersion(): Promise<number> {
    return versionOn(this.pool);
  }

  /**
   * A pooled connection for a transaction. The server may drop it while it is checked out
   * (a restart): without a listener that 'error' would end the process; the query in
   * progress fails instead, and the release below discards the connection.
   */
  private async checkout(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    if (!client.listenerCount('error')) client.on('error', () => undefined);
    return client;
  }

  async migrate(): Promise<number> {
    const client = await this.checkout();
    try {
      await client.query('BEGIN');
      // Several processes may start at once on a new database: one migrates, the others wait.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('sealcode schema_migrations'))");
      const have = await versionOn(client);
      if (have > LATEST_VERSION) throw newerSchema(this.where, have);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of MIGRATIONS) {
        if (m.version <= have) continue;
        await client.query(forPostgres(m.sql));
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      }
      await client.query('COMMIT');
      return LATEST_VERSION;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function versionOn(q: Queryable): Promise<number> {
  const exists = (await q.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS e")).rows[0]?.e as boolean;
  if (!exists) return 0;
  return Number((await q.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
