// The one-time view of a card just issued in the console: its sealed card file and its
// code sheet. Issuing redirects to this view (so a reload never issues twice); the view
// lives in the database, sealed under the master key (so any serving process can show
// it), found through a random id held only in the seller's cookie (so it is never in a
// URL or a log), and is deleted when the seller marks it done or when it expires.
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromUtf8, utf8 } from '../../card/index.js';
import type { Seller } from '../seller/seller.js';
import type { CodeSheet } from './views/codesheet.js';

export const ISSUED_COOKIE = 'sc_issued';
export const ISSUED_VIEW_MS = 30 * 60 * 1000;

export interface IssuedView {
  sheet: CodeSheet;
  fileName: string;
  cardFile: string;
  until: number;
}

const idHash = (id: string): Uint8Array => sha256(utf8(`issued view\0${id}`));
const PURPOSE = 'issued-view';

async function sweep(seller: Seller, now: number): Promise<void> {
  await seller.db.run('DELETE FROM issued_views WHERE expires_at <= ?', now);
}

/** Stores the view; returns the id for the cookie. */
export async function putIssuedView(seller: Seller, v: Omit<IssuedView, 'until'>, now = Date.now()): Promise<{ id: string; until: number }> {
  await sweep(seller, now);
  const id = randomBytes(32).toString('base64url');
  const until = now + ISSUED_VIEW_MS;
  const sealed = seller.seal(PURPOSE, utf8(JSON.stringify({ ...v, until } satisfies IssuedView)));
  await seller.db.run('INSERT INTO issued_views (id_hash, card_id, sealed, expires_at) VALUES (?, ?, ?, ?)', idHash(id), v.sheet.cardId, sealed, until);
  return { id, until };
}

export async function getIssuedView(seller: Seller, id: string | undefined, now = Date.now()): Promise<IssuedView | undefined> {
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
  const row = await seller.db.get<{ sealed: Uint8Array; expires_at: number }>('SELECT sealed, expires_at FROM issued_views WHERE id_hash = ?', idHash(id));
  if (!row) return undefined;
  if (row.expires_at <= now) {
    await sweep(seller, now);
    return undefined;
  }
  return JSON.parse(fromUtf8(seller.open(PURPOSE, new Uint8Array(row.sealed)))) as IssuedView;
}

export async function dropIssuedView(seller: Seller, id: string | undefined): Promise<void> {
  if (id) await seller.db.run('DELETE FROM issued_views WHERE id_hash = ?', idHash(id));
}
