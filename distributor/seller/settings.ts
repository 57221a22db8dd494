// Settings of the seller's service kept in the database: the public URL that `serve`
// runs under, which off-line commands then write into cards and builds too.
import type { Seller } from './seller.js';

const PUBLIC_URL = 'public_url';

export async function recordPublicUrl(seller: Seller, url: string, now = Date.now()): Promise<void> {
  await seller.db.run('INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at', PUBLIC_URL, url, now);
}

/** The URL `serve` last ran under, if it ever ran on this data folder. */
export async function recordedPublicUrl(seller: Seller): Promise<string | undefined> {
  return (await seller.db.value<string>('SELECT value FROM settings WHERE name = ?', PUBLIC_URL)) ?? undefined;
}
