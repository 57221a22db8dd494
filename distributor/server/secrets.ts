// The web service's own secrets: the cookie-signing key (sealed in the database, so
// every process sharing it signs alike) and the console password (a file in the data
// folder, mode 0600, readable by the operator only).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from '@noble/hashes/utils.js';
import type { Seller } from '../seller/seller.js';
import { writePrivateFile } from '../db/private-files.js';

export const CONSOLE_PASSWORD_FILE = 'console-password';

export async function serverKey(seller: Seller, name: string): Promise<Uint8Array> {
  const get = () => seller.db.value<Uint8Array>('SELECT sealed FROM server_secrets WHERE name = ?', name);
  let sealed = await get();
  if (!sealed) {
    // Two processes may race here: the first insert wins and both read it back.
    await seller.db.run('INSERT INTO server_secrets (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', name, seller.seal(`server:${name}`, randomBytes(32)), Date.now());
    sealed = (await get())!;
  }
  return seller.open(`server:${name}`, new Uint8Array(sealed));
}

/** The console password, created on first use. */
export function ensureConsolePassword(dataDir: string): { password: string; path: string; created: boolean } {
  const path = join(dataDir, CONSOLE_PASSWORD_FILE);
  if (existsSync(path)) return { password: readFileSync(path, 'utf8').trim(), path, created: false };
  const password = Buffer.from(randomBytes(18)).toString('base64url');
  if (!writePrivateFile(path, password + '\n')) return { password: readFileSync(path, 'utf8').trim(), path, created: false };
  return { password, path, created: true };
}
