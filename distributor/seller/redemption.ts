// Redemption (patent Fig. 26, [0047]-[0048]): a code moves unused → in_use when a
// download is granted and in_use → already_used when it completes or its resume
// window closes. Every transition runs in one transaction that locks the code first
// (IMMEDIATE on SQLite, SELECT … FOR UPDATE on PostgreSQL), so the code is
// granted exactly once even with several processes on one database.
import { createHash } from 'node:crypto';
import { randomBytes } from '@noble/hashes/utils.js';
import {
  DAY_MS,
  SealError,
  equalBytes,
  fromUtf8,
  makeBuild,
  newId,
  parseCode,
  sellerPart,
  parseProfile,
  secretHash,
  utf8,
  decodeCert,
  type CardCert,
  type DedicatedProfile,
} from '../../card/index.js';
import type { Seller } from './seller.js';
import { EmailAddress, parseOrRefuse } from '../validation.js';
import { recordedPublicUrl } from './settings.js';

export const DEFAULT_RESUME_WINDOW_MS = 15 * 60 * 1000;

interface CodeRow {
  serial: string;
  secret_hash: Uint8Array;
  card_id: string;
  group_id: string;
  kind: 'code' | 'copy';
  state: 'unused' | 'in_use' | 'already_used' | 'revoked';
  copies_allowed: number;
  parent_build_id: string | null;
  key_kind: 'code' | 'id';
  key_label: string | null;
  build_valid_days: number;
  expires_at: number;
}

// One message for unknown serials and wrong secrets, so a guesser learns nothing.
const INVALID = 'This code is not valid. Check it against what you were given and type it again; dashes and upper or lower case do not matter.';

/** The code row for a typed code, after checking its secret in constant time. */
export async function checkCode(seller: Seller, codeText: string): Promise<CodeRow> {
  // A blind code's part after "+" is dropped here unread: never stored, logged or sealed.
  const code = parseCode(sellerPart(codeText));
  // Locked until the caller's transaction ends: concurrent attempts on one code (on
  // PostgreSQL, from any process) wait here rather than race to the state change.
  const row = await seller.db.getForUpdate<CodeRow>('SELECT * FROM codes WHERE serial = ?', code.serial);
  const expect = secretHash(code.serial, code.secret);
  // Compare against a dummy when the serial is unknown, so both paths cost the same.
  const ok = equalBytes(row ? new Uint8Array(row.secret_hash) : new Uint8Array(32), expect);
  if (!row || !ok) throw new SealError('BAD_CODE', INVALID);
  return row;
}

// node:crypto, not @noble: hashed on every grant and download, where the pure-JS hash
// showed in the profile. Same bytes.
const tokenHash = (token: string): Uint8Array => new Uint8Array(createHash('sha256').update('sealcode download token\0' + token, 'utf8').digest());
/** The redemption cookie of a browser, as kept in the database. */
const visitorHash = (visitor: string): Uint8Array => new Uint8Array(createHash('sha256').update('sealcode visitor\0' + visitor, 'utf8').digest());

export interface Grant {
  redemptionId: string;
  buildId: string;
  serial: string;
  token: string;
  tokenExpiresAt: number;
  profile: DedicatedProfile;
  /** True when this is the same download as an earlier grant (same email or browser). */
  resumed: boolean;
}

export interface GrantInput {
  code: string;
  email: string;
  /** The browser's redemption cookie: the same browser gets its open download back. */
  visitor?: string;
  now?: number;
  resumeWindowMs?: number;
  distributorUrl?: string;
}

const OPEN_EXPIRED = 'FROM redemptions WHERE completed_at IS NULL AND sealed_profile IS NOT NULL AND token_expires_at < ?';
/** Wipes what a download needs once it is done, abandoned or revoked. */
export const WIPE_SECRETS = 'sealed_profile = NULL, token_hash = NULL, sealed_token = NULL';
const SWEEP_DUE = `SELECT 1 ${OPEN_EXPIRED} LIMIT 1`;

/** Closes resume windows that have run out: their codes become already_used. */
export async function sweepExpiredGrants(seller: Seller, now = Date.now()): Promise<number> {
  // Runs before every grant: an indexed read first, so that the write lock (and a WAL
  // commit) is only taken when some window has in fact closed. The transaction reads again.
  if (!(await seller.db.get(SWEEP_DUE, now))) return 0;
  return seller.db.tx(async () => {
      const stale = await seller.db.all<{ id: string; serial: string }>(`SELECT id, serial ${OPEN_EXPIRED}`, now);
      for (const r of stale) {
        await seller.db.run(`UPDATE redemptions SET ${WIPE_SECRETS} WHERE id = ?`, r.id);
        await settleCode(seller, r.serial, now);
      }
      return stale.length;
    });
}

/** A code is used up once as many redemptions as it allows are done or abandoned. */
async function settleCode(seller: Seller, serial: string, now: number): Promise<void> {
  const c = (await seller.db.getForUpdate<{ copies_allowed: number; state: string }>('SELECT copies_allowed, state FROM codes WHERE serial = ?', serial))!;
  const closed = (await seller.db.value<number>('SELECT COUNT(*) FROM redemptions WHERE serial = ? AND (completed_at IS NOT NULL OR sealed_profile IS NULL)', serial))!;
  if (closed >= c.copies_allowed && c.state !== 'revoked')
    await seller.db.run("UPDATE codes SET state = 'already_used', state_changed_at = ? WHERE serial = ?", now, serial);
}

export async function grantRedemption(seller: Seller, input: GrantInput): Promise<Grant> {
  const now = input.now ?? Date.now();
  // Signed into the build certificate and printed by every verify of its files.
  const email = parseOrRefuse(EmailAddress, input.email);
  await sweepExpiredGrants(seller, now);
  return seller.db.tx(async (): Promise<Grant> => {
      const row = await checkCode(seller, input.code);
      if (row.state === 'revoked') throw new SealError('REVOKED', 'This code has been withdrawn by the person who gave it to you. Ask them for a new one.');
      if (row.expires_at < now) throw new SealError('EXPIRED', 'This code has expired. Ask the person who gave it to you for a new one.');
      // The group's blind flag with the card: one statement fewer per grant.
      const card = (await seller.db.get<{ cert: Uint8Array; revoked_at: number | null; blind: number }>('SELECT cert, revoked_at, (SELECT blind FROM groups WHERE id = ?) AS blind FROM cards WHERE id = ?', row.group_id, row.card_id))!;
      if (card.revoked_at) throw new SealError('REVOKED', 'The card of the person who gave you this code has been withdrawn, so the code cannot be used. Ask them what to do.');
      // Reloading the success page, or typing the code again before downloading, gives
      // the same download back: to the same email address or the same browser.
      const again = await openGrantFor(seller, row.serial, email, input.visitor, now);
      if (again) return again;
      const taken = (await seller.db.value<number>('SELECT COUNT(*) FROM redemptions WHERE serial = ?', row.serial))!;
      if (row.state === 'already_used' || taken >= row.copies_allowed) {
        const open = (await seller.db.value<number>('SELECT COUNT(*) FROM redemptions WHERE serial = ? AND completed_at IS NULL AND sealed_profile IS NOT NULL', row.serial))!;
        if (open > 0)
          throw new SealError('REFUSED', 'This code is being redeemed with another email address. If that was you, type the address you used then; otherwise ask the person who gave you the code for a new one.');
        throw new SealError('REFUSED', 'This code has already been used. Ask the person who gave it to you for a new one.');
      }
      const purchaserCertBytes = new Uint8Array(card.cert);
      const purchaserCert = decodeCert(purchaserCertBytes) as CardCert;
      // A copy code's builds hold the parent's key, so parent and copies can talk.
      let keyKind = row.key_kind;
      let keyLabel = row.key_label ?? row.serial;
      if (row.kind === 'copy' && row.parent_build_id) {
        const parent = (await seller.db.value<Uint8Array>('SELECT build_cert FROM redemptions WHERE build_id = ?', row.parent_build_id))!;
        const pc = decodeCert(new Uint8Array(parent));
        if (pc.type !== 'build') throw new SealError('MALFORMED', 'parent build certificate is not a build');
        keyKind = pc.keyKind;
        keyLabel = pc.keyLabel;
      }
      const profile = makeBuild(seller.issuerSecret(), seller.issuerPub, {
        serial: row.serial,
        keyKind,
        keyLabel,
        purchaserCert,
        purchaserCertBytes,
        groupKey: await seller.groupKey(row.group_id),
        redeemerEmail: email,
        expires: now + row.build_valid_days * DAY_MS,
        copyOf: row.parent_build_id ?? '',
        distributorUrl: input.distributorUrl ?? (await recordedPublicUrl(seller)),
        now,
        blind: card.blind === 1,
      });
      const redemptionId = newId('red');
      const token = Buffer.from(randomBytes(32)).toString('base64url');
      const tokenExpiresAt = now + (input.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS);
      await seller.db.run(
          `INSERT INTO redemptions (id, serial, build_id, redeemer_email, build_cert, copy_of, build_expires_at, sealed_profile, token_hash, token_expires_at, granted_at, sealed_token, visitor_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          redemptionId,
          row.serial,
          profile.buildId,
          email,
          Buffer.from(profile.buildCert, 'base64'),
          row.parent_build_id,
          profile.expires,
          seller.seal(`redemption:${redemptionId}`, utf8(JSON.stringify(profile))),
          tokenHash(token),
          tokenExpiresAt,
          now,
          seller.seal(`token:${redemptionId}`, utf8(token)),
          input.visitor ? visitorHash(input.visitor) : null,
        );
      await seller.db.run("UPDATE codes SET state = 'in_use', state_changed_at = ? WHERE serial = ?", now, row.serial);
      return { redemptionId, buildId: profile.buildId, serial: row.serial, token, tokenExpiresAt, profile, resumed: false };
    });
}

/** The open grant of `serial` made for this email address or this browser, if any. */
async function openGrantFor(seller: Seller, serial: string, email: string, visitor: string | undefined, now: number): Promise<Grant | null> {
  const rows = await seller.db.all<{ id: string; build_id: string; redeemer_email: string; visitor_hash: Uint8Array | null; sealed_profile: Uint8Array; sealed_token: Uint8Array; token_expires_at: number }>(
    'SELECT id, build_id, redeemer_email, visitor_hash, sealed_profile, sealed_token, token_expires_at FROM redemptions WHERE serial = ? AND completed_at IS NULL AND sealed_profile IS NOT NULL AND sealed_token IS NOT NULL AND token_expires_at >= ? ORDER BY granted_at',
    serial,
    now,
  );
  const vh = visitor ? visitorHash(visitor) : null;
  const r = rows.find((x) => x.redeemer_email.toLowerCase() === email.toLowerCase()) ?? rows.find((x) => vh && x.visitor_hash && equalBytes(new Uint8Array(x.visitor_hash), vh));
  if (!r) return null;
  return {
    redemptionId: r.id,
    buildId: r.build_id,
    serial,
    token: fromUtf8(seller.open(`token:${r.id}`, new Uint8Array(r.sealed_token))),
    tokenExpiresAt: r.token_expires_at,
    profile: parseProfile(JSON.parse(fromUtf8(seller.open(`redemption:${r.id}`, new Uint8Array(r.sealed_profile))))),
    resumed: true,
  };
}

export interface ResumedGrant {
  redemptionId: string;
  serial: string;
  profile: DedicatedProfile;
  tokenExpiresAt: number;
}

/** The profile behind a download token, while its window is open and it is not complete. */
export async function resumeRedemption(seller: Seller, token: string, now = Date.now()): Promise<ResumedGrant> {
  const row = await seller.db.get<{ id: string; serial: string; sealed_profile: Uint8Array | null; token_expires_at: number; completed_at: number | null }>(
    'SELECT id, serial, sealed_profile, token_expires_at, completed_at FROM redemptions WHERE token_hash = ?',
    tokenHash(token),
  );
  if (!row || !row.sealed_profile || row.completed_at) throw new SealError('REFUSED', 'this download link is no longer valid');
  if (row.token_expires_at < now) throw new SealError('EXPIRED', 'this download link has expired');
  const profile = parseProfile(JSON.parse(fromUtf8(seller.open(`redemption:${row.id}`, new Uint8Array(row.sealed_profile)))));
  return { redemptionId: row.id, serial: row.serial, profile, tokenExpiresAt: row.token_expires_at };
}

/** The download finished: the secrets are wiped and the code is settled. Idempotent. */
export async function completeRedemption(seller: Seller, redemptionId: string, now = Date.now()): Promise<void> {
  await seller.db.tx(async () => {
      const r = await seller.db.getForUpdate<{ serial: string; completed_at: number | null }>('SELECT serial, completed_at FROM redemptions WHERE id = ?', redemptionId);
      if (!r) throw new SealError('USAGE', `unknown redemption ${redemptionId}`);
      if (r.completed_at) return;
      await seller.db.run(`UPDATE redemptions SET completed_at = ?, ${WIPE_SECRETS} WHERE id = ?`, now, redemptionId);
      await settleCode(seller, r.serial, now);
    });
}

/** The off-line redemption of `sealcode admin redeem`: grant and complete at once. */
export async function redeemOffline(seller: Seller, input: GrantInput): Promise<Grant> {
  // One outer transaction that the inner ones join, so unused → in_use → already_used
  // commits as a whole or not at all.
  return seller.db.tx(async () => {
      const g = await grantRedemption(seller, input);
      await completeRedemption(seller, g.redemptionId, input.now ?? Date.now());
      return g;
    });
}
