// The seller's state in one data folder: database, master key, issuer key. Everything
// that reads or writes seller data goes through openSeller().
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { newSigningKey, signingPublicKey, toBase64, SealError } from '../../card/index.js';
import { openDatabase, pluckStmt, DB_FILE, type Db } from '../db/open.js';
import { loadMasterKey, openSecret, sealSecret } from '../db/master-key.js';
import { writePrivateFile } from '../db/private-files.js';

export const ISSUER_PUB_FILE = 'issuer.pub';

export interface Seller {
  db: Db;
  dataDir: string;
  issuerPub: Uint8Array;
  issuerSecret(): Uint8Array;
  groupKey(groupId: string): Uint8Array;
  seal(purpose: string, secret: Uint8Array): Uint8Array;
  open(purpose: string, sealed: Uint8Array): Uint8Array;
  close(): void;
}

export interface InitResult {
  created: boolean;
  dataDir: string;
  issuerPublicKey: string;
}

/** Creates the database, master key and issuer key; a second run changes nothing. */
export function initSeller(dataDir: string): InitResult {
  const fresh = !existsSync(join(dataDir, DB_FILE));
  const db = openDatabase(dataDir);
  try {
    const master = loadMasterKey(dataDir, true);
    let created = false;
    db.transaction(() => {
      if (db.prepare('SELECT 1 FROM issuer_keys WHERE id = 1').get()) return;
      const k = newSigningKey();
      db.prepare('INSERT INTO issuer_keys (id, public_key, sealed_secret, created_at) VALUES (1, ?, ?, ?)').run(
        k.publicKey,
        sealSecret(master, 'issuer', k.secretKey),
        Date.now(),
      );
      created = true;
    }).immediate();
    const pub = db.prepare('SELECT public_key FROM issuer_keys WHERE id = 1').pluck().get() as Uint8Array;
    writePrivateFile(join(dataDir, ISSUER_PUB_FILE), toBase64(pub) + '\n');
    return { created: created || fresh, dataDir, issuerPublicKey: toBase64(pub) };
  } finally {
    db.close();
  }
}

export function openSeller(dataDir: string): Seller {
  if (!existsSync(join(dataDir, DB_FILE)))
    throw new SealError('USAGE', `no sealcode data in ${dataDir}: run \`sealcode init --data ${dataDir}\` first`);
  const db = openDatabase(dataDir);
  const master = loadMasterKey(dataDir, false);
  const row = db.prepare('SELECT public_key, sealed_secret FROM issuer_keys WHERE id = 1').get() as
    | { public_key: Uint8Array; sealed_secret: Uint8Array }
    | undefined;
  if (!row) throw new SealError('USAGE', `${dataDir} has no issuer key: run \`sealcode init\``);
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
    groupKey(groupId) {
      const sealed = pluckStmt(db, 'SELECT sealed_key FROM groups WHERE id = ?').get(groupId) as Uint8Array | undefined;
      if (!sealed) throw new SealError('USAGE', `unknown group ${groupId}`);
      return openSecret(master, `group:${groupId}`, sealed);
    },
    seal: (purpose, secret) => sealSecret(master, purpose, secret),
    open: (purpose, sealed) => openSecret(master, purpose, sealed),
    close: () => db.close(),
  };
}
