// The seller's state: the database (SQLite in the data folder, or PostgreSQL named by
// --db), the master key and the issuer key. Everything that reads or writes seller data
// goes through openSeller().
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { newSigningKey, signingPublicKey, toBase64, SealError } from '../../card/index.js';
import { openStore } from '../db/open.js';
import { DB_FILE } from '../db/sqlite.js';
import type { Store } from '../db/store.js';
import type { PostgresOptions } from '../db/postgres.js';
import type { SqliteOptions } from '../db/sqlite.js';
import { loadMasterKey, openSecret, sealSecret } from '../db/master-key.js';
import { writePrivateFile } from '../db/private-files.js';

export const ISSUER_PUB_FILE = 'issuer.pub';

export interface Seller {
  db: Store;
  dataDir: string;
  issuerPub: Uint8Array;
  issuerSecret(): Uint8Array;
  groupKey(groupId: string): Promise<Uint8Array>;
  seal(purpose: string, secret: Uint8Array): Uint8Array;
  open(purpose: string, sealed: Uint8Array): Uint8Array;
  close(): Promise<void>;
}

export interface SellerOptions extends PostgresOptions, SqliteOptions {
  /** A postgres:// URL; absent, the SQLite file in the data folder. */
  dbUrl?: string;
}

export interface InitResult {
  created: boolean;
  dataDir: string;
  issuerPublicKey: string;
}

/** Creates the database schema, master key and issuer key; a second run changes nothing. */
export async function initSeller(dataDir: string, o: SellerOptions = {}): Promise<InitResult> {
  const fresh = o.dbUrl ? false : !existsSync(join(dataDir, DB_FILE));
  const db = await openStore(dataDir, o.dbUrl, o);
  try {
    await db.migrate();
    // A second host joining a shared database must bring the master key, not make one.
    const master = loadMasterKey(dataDir, !(await db.get('SELECT 1 FROM issuer_keys WHERE id = 1')));
    // Several processes may start on a new database at once: the first insert wins.
    const k = newSigningKey();
    const created =
      (await db.run('INSERT INTO issuer_keys (id, public_key, sealed_secret, created_at) VALUES (1, ?, ?, ?) ON CONFLICT DO NOTHING', k.publicKey, sealSecret(master, 'issuer', k.secretKey), Date.now())) === 1;
    const pub = (await db.value<Uint8Array>('SELECT public_key FROM issuer_keys WHERE id = 1'))!;
    // Refuses here, not at the first redemption, a master key that is not this database's.
    const sealed = (await db.value<Uint8Array>('SELECT sealed_secret FROM issuer_keys WHERE id = 1'))!;
    openSecret(master, 'issuer', new Uint8Array(sealed));
    writePrivateFile(join(dataDir, ISSUER_PUB_FILE), toBase64(pub) + '\n');
    return { created: created || fresh, dataDir, issuerPublicKey: toBase64(pub) };
  } finally {
    await db.close();
  }
}

export async function openSeller(dataDir: string, o: SellerOptions = {}): Promise<Seller> {
  if (!o.dbUrl && !existsSync(join(dataDir, DB_FILE)))
    throw new SealError('USAGE', `no sealcode data in ${dataDir}: run \`sealcode init --data ${dataDir}\` first`);
  const db = await openStore(dataDir, o.dbUrl, o);
  try {
    await db.migrate();
    const master = loadMasterKey(dataDir, false);
    const row = await db.get<{ public_key: Uint8Array; sealed_secret: Uint8Array }>('SELECT public_key, sealed_secret FROM issuer_keys WHERE id = 1');
    if (!row) throw new SealError('USAGE', `${db.where} has no issuer key: run \`sealcode init\``);
    const issuerPub = new Uint8Array(row.public_key);
    return {
      db,
      dataDir,
      issuerPub,
      issuerSecret() {
        const s = openSecret(master, 'issuer', row.sealed_secret);
        if (toBase64(signingPublicKey(s)) !== toBase64(issuerPub)) throw new SealError('TAMPERED', 'issuer key does not match its public key');
        return s;
      },
      async groupKey(groupId) {
        const sealed = await db.value<Uint8Array>('SELECT sealed_key FROM groups WHERE id = ?', groupId);
        if (!sealed) throw new SealError('USAGE', `unknown group ${groupId}`);
        return openSecret(master, `group:${groupId}`, sealed);
      },
      seal: (purpose, secret) => sealSecret(master, purpose, secret),
      open: (purpose, sealed) => openSecret(master, purpose, sealed),
      close: () => db.close(),
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
