// Settings of the seller's service kept in the database: the public URL that `serve`
// runs under, which off-line commands then write into cards and builds too.
import { pluckStmt, stmt } from '../db/open.js';
import type { Seller } from './seller.js';

const PUBLIC_URL = 'public_url';

export function recordPublicUrl(seller: Seller, url: string, now = Date.now()): void {
  stmt(seller.db, 'INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(PUBLIC_URL, url, now);
}

/** The URL `serve` last ran under, if it ever ran on this data folder. */
export function recordedPublicUrl(seller: Seller): string | undefined {
  return (pluckStmt(seller.db, 'SELECT value FROM settings WHERE name = ?').get(PUBLIC_URL) as string | undefined) ?? undefined;
}
