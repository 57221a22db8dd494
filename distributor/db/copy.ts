// `sealcode db copy`: an existing SQLite seller database moved into an empty PostgreSQL
// one, in one transaction, then checked table by table (row counts and a hash of every
// row) on both sides. The sealed secrets travel as they are: the PostgreSQL processes
// need the same master key as the data folder's.
import { createHash } from 'node:crypto';
import { SealError } from '../../card/index.js';
import type { Param, Store } from './store.js';

/** Every table of the schema, parents before children, with the column that orders it. */
export const TABLES: { name: string; key: string }[] = [
  { name: 'issuer_keys', key: 'id' },
  { name: 'purchasers', key: 'id' },
  { name: 'groups', key: 'id' },
  { name: 'cards', key: 'id' },
  { name: 'codes', key: 'serial' },
  { name: 'redemptions', key: 'id' },
  { name: 'payments', key: 'id' },
  { name: 'pairs', key: 'id' },
  { name: 'paybacks', key: 'id' },
  { name: 'challenges', key: 'id' },
  { name: 'server_secrets', key: 'name' },
  { name: 'console_sessions', key: 'id_hash' },
  { name: 'email_confirmations', key: 'token_hash' },
  { name: 'settings', key: 'name' },
  { name: 'issued_views', key: 'id_hash' },
];

export interface TableDigest {
  table: string;
  rows: number;
  sha256: string;
}

type Row = Record<string, unknown>;

/** A value as the same text whichever database returned it. */
function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `n:${String(v)}`;
  return `s:${JSON.stringify(String(v))}`;
}

const sortKey = (r: Row, key: string): string => canonical(r[key]);
// By code point in JS: the two databases' collations need not agree.
const byKey = (key: string) => (a: Row, b: Row) => {
  const x = sortKey(a, key);
  const y = sortKey(b, key);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Row count and SHA-256 of the rows (columns by name, rows by key) of every table. */
export async function tableDigests(db: Store): Promise<TableDigest[]> {
  const out: TableDigest[] = [];
  for (const t of TABLES) {
    const rows = (await db.all<Row>(`SELECT * FROM ${t.name}`)).sort(byKey(t.key));
    const h = createHash('sha256');
    for (const r of rows) h.update(Object.keys(r).sort().map((c) => `${c}=${canonical(r[c])}`).join('\x1f') + '\x1e');
    out.push({ table: t.name, rows: rows.length, sha256: h.digest('hex') });
  }
  return out;
}

export interface CopyProgress {
  (table: string, done: number, total: number): void;
}

const BATCH = 200;

/**
 * Copies every row of `from` into `to`, which must hold no seller data, in one
 * transaction on `to`; then compares the digests of both. Throws (and `to` keeps
 * nothing) on any difference.
 */
export async function copyDatabase(from: Store, to: Store, progress: CopyProgress = () => undefined): Promise<TableDigest[]> {
  await from.migrate();
  await to.migrate();
  for (const t of TABLES) {
    const n = (await to.value<number>(`SELECT COUNT(*) FROM ${t.name}`))!;
    if (n > 0) throw new SealError('USAGE', `the target database is not empty (${t.name} has ${n} rows): db copy only fills a new, empty database`);
  }
  const source = await tableDigests(from);
  await to.tx(async () => {
    for (const t of TABLES) {
      const rows = (await from.all<Row>(`SELECT * FROM ${t.name}`)).sort(byKey(t.key));
      progress(t.name, 0, rows.length);
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = rows.slice(i, i + BATCH);
        const cols = Object.keys(batch[0]!);
        const values = batch.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ');
        await to.run(`INSERT INTO ${t.name} (${cols.join(', ')}) VALUES ${values}`, ...batch.flatMap((r) => cols.map((c) => r[c] as Param)));
        progress(t.name, Math.min(i + BATCH, rows.length), rows.length);
      }
    }
    // Checked before the commit: a difference leaves the target as empty as it was.
    const target = await tableDigests(to);
    for (const [i, s] of source.entries()) {
      const d = target[i]!;
      if (d.rows !== s.rows || d.sha256 !== s.sha256)
        throw new SealError('TAMPERED', `the copy of ${s.table} differs from the source (${d.rows} rows, ${s.rows} expected): nothing was kept`);
    }
  });
  return source;
}
