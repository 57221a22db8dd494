// Every rule and state change of redemption (distributor/seller/redemption.ts), on a real
// SQLite file: each case breaks one condition and checks the error, that nothing was
// recorded, and the code's state; each boundary is tried on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, formatCode, generateCode, parseCode, profileCerts, secretHash, type BuildCert } from '../../card/index.js';
import { initSeller, openSeller, type Seller } from '../../distributor/seller/seller.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import {
  DEFAULT_RESUME_WINDOW_MS,
  checkCode,
  completeRedemption,
  grantRedemption,
  redeemOffline,
  resumeRedemption,
  sweepExpiredGrants,
} from '../../distributor/seller/redemption.js';
import { revokeCard, revokeCode } from '../../distributor/seller/revoke.js';
import { redeemOfflineAsId } from '../../distributor/seller/id-mode.js';
import { outcome } from '../support/outcome.js';

const dir = mkdtempSync(join(tmpdir(), 'sealcode-redeem-rules-'));
let seller: Seller;
const T0 = Date.UTC(2026, 0, 1);
beforeAll(() => {
  initSeller(dir);
  seller = openSeller(dir);
});
afterAll(() => {
  seller.close();
  rmSync(dir, { recursive: true, force: true });
});

const card = (codes = 3, extra: { codeValidDays?: number } = {}): IssuedCard =>
  issueCard(seller, { name: 'Pat', email: 'pat@example.test', codes, now: T0, ...extra });
const row = (serial: string) => seller.db.prepare('SELECT state, state_changed_at FROM codes WHERE serial = ?').get(serial) as { state: string; state_changed_at: number };
const redemptions = (serial: string) =>
  seller.db.prepare('SELECT * FROM redemptions WHERE serial = ? ORDER BY granted_at, id').all(serial) as Record<string, unknown>[];
const INVALID = 'BAD_CODE: This code is not valid. Check it against what you were given and type it again; dashes and upper or lower case do not matter.';

describe('checkCode', () => {
  it('returns the row of a right code, typed in any harmless way', () => {
    const c = card(1).data.codes[0]!;
    const r = checkCode(seller, c.code.toLowerCase().replace(/-/g, ' '));
    expect(r.serial).toBe(c.serial);
    expect(r.state).toBe('unused');
  });

  it('a wrong secret and an unknown serial give one message', () => {
    const [a, b] = card(2).data.codes;
    // a's serial with b's secret: well formed, check characters right, secret wrong.
    const secretOf = (text: string) => parseCode(text).secret;
    expect(outcome(() => checkCode(seller, formatCode(a!.serial, secretOf(b!.code))))).toBe(INVALID);
    expect(outcome(() => checkCode(seller, formatCode('0000000000', secretOf(b!.code))))).toBe(INVALID);
    expect(outcome(() => checkCode(seller, formatCode(a!.serial, secretOf(a!.code))))).toBe('ok');
  });
});

describe('grantRedemption', () => {
  it('grants a fresh code: in_use from now, a build for its serial, a token for the resume window', () => {
    const c = card(1);
    const code = c.data.codes[0]!;
    const g = grantRedemption(seller, { code: code.code, email: '  dana@example.test ', now: T0 + 5 });
    expect(row(code.serial)).toEqual({ state: 'in_use', state_changed_at: T0 + 5 });
    expect(g.serial).toBe(code.serial);
    expect(g.tokenExpiresAt).toBe(T0 + 5 + DEFAULT_RESUME_WINDOW_MS);
    expect(DEFAULT_RESUME_WINDOW_MS).toBe(15 * 60 * 1000);
    expect(g.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const b = profileCerts(g.profile).build as BuildCert;
    expect(b).toMatchObject({ serial: code.serial, keyKind: 'code', keyLabel: code.serial, cardId: c.cardId, redeemerEmail: 'dana@example.test', copyOf: '' });
    expect(b.notAfter).toBe(T0 + 5 + 365 * DAY_MS);
    const [r] = redemptions(code.serial);
    expect(r).toMatchObject({ id: g.redemptionId, build_id: g.buildId, redeemer_email: 'dana@example.test', granted_at: T0 + 5, token_expires_at: g.tokenExpiresAt, copy_of: null });
    expect(r!.sealed_profile).not.toBeNull();
    expect(r!.token_hash).toHaveLength(32);
    expect(resumeRedemption(seller, g.token, T0 + 6).profile).toEqual(g.profile);
  });

  it('the same email again, before the download, is the same grant, marked as shown again', () => {
    const code = card(1).data.codes[0]!;
    const first = grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
    const again = grantRedemption(seller, { code: code.code, email: 'D@Example.test', now: T0 + 1 });
    expect(first.resumed).toBe(false);
    expect(again).toMatchObject({ resumed: true, token: first.token, redemptionId: first.redemptionId, buildId: first.buildId });
    expect(redemptions(code.serial)).toHaveLength(1);
  });

  it('a resume window of the caller’s choosing', () => {
    const code = card(1).data.codes[0]!;
    expect(grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0, resumeWindowMs: 7 }).tokenExpiresAt).toBe(T0 + 7);
  });

  it('needs a plausible email address, and records nothing without one', () => {
    const code = card(1).data.codes[0]!;
    expect(outcome(() => grantRedemption(seller, { code: code.code, email: '  ', now: T0 }))).toBe('USAGE: Type an email address.');
    expect(outcome(() => grantRedemption(seller, { code: code.code, email: `${'a'.repeat(250)}@b.cd`, now: T0 }))).toBe('USAGE: An email address may have at most 254 characters.');
    expect(outcome(() => grantRedemption(seller, { code: code.code, email: 'a\u202e@example.test', now: T0 }))).toBe('USAGE: An email address must not contain control or text-direction characters.');
    for (const email of ['no-at', '@example.test', 'a@', 'a b@example.test', 'a@b c', 'a@b'])
      expect(outcome(() => grantRedemption(seller, { code: code.code, email, now: T0 })), email).toBe('USAGE: Type a whole email address, like name@example.org.');
    expect(outcome(() => grantRedemption(seller, { code: code.code, email: `${'a'.repeat(249)}@b.cd`, now: T0 }))).toBe('ok');
    expect(redemptions(code.serial)).toHaveLength(1);
  });

  it('a revoked code is REVOKED and stays revoked', () => {
    const code = card(1).data.codes[0]!;
    revokeCode(seller, code.serial, T0);
    expect(outcome(() => grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 }))).toBe('REVOKED: This code has been withdrawn by the person who gave it to you. Ask them for a new one.');
    expect(row(code.serial).state).toBe('revoked');
    expect(redemptions(code.serial)).toHaveLength(0);
  });

  it('an expired code is EXPIRED from the millisecond after its expiry', () => {
    const code = card(2, { codeValidDays: 1 }).data.codes;
    const expires = T0 + DAY_MS;
    expect(outcome(() => grantRedemption(seller, { code: code[0]!.code, email: 'd@example.test', now: expires + 1 }))).toBe('EXPIRED: This code has expired. Ask the person who gave it to you for a new one.');
    expect(row(code[0]!.serial).state).toBe('unused');
    expect(redemptions(code[0]!.serial)).toHaveLength(0);
    expect(outcome(() => grantRedemption(seller, { code: code[1]!.code, email: 'd@example.test', now: expires }))).toBe('ok');
  });

  it('a used code, or one whose redemptions are all taken, is REFUSED', () => {
    const [a, b] = card(2).data.codes;
    redeemOffline(seller, { code: a!.code, email: 'd@example.test', now: T0 });
    expect(row(a!.serial).state).toBe('already_used');
    expect(outcome(() => grantRedemption(seller, { code: a!.code, email: 'd@example.test', now: T0 }))).toBe('REFUSED: This code has already been used. Ask the person who gave it to you for a new one.');
    // Granted but not yet downloaded: in_use, taken for any other email (the same one sees its link again).
    grantRedemption(seller, { code: b!.code, email: 'd@example.test', now: T0 });
    expect(outcome(() => grantRedemption(seller, { code: b!.code, email: 'e@example.test', now: T0 + 1 }))).toBe(
      'REFUSED: This code is being redeemed with another email address. If that was you, type the address you used then; otherwise ask the person who gave you the code for a new one.',
    );
    expect(redemptions(b!.serial)).toHaveLength(1);
    expect(row(b!.serial)).toEqual({ state: 'in_use', state_changed_at: T0 });
  });

  it("a revoked purchaser's card: its codes are REVOKED at redemption", () => {
    const c = card(1);
    revokeCard(seller, c.cardId, T0);
    expect(outcome(() => grantRedemption(seller, { code: c.data.codes[0]!.code, email: 'd@example.test', now: T0 }))).toBe(
      'REVOKED: The card of the person who gave you this code has been withdrawn, so the code cannot be used. Ask them what to do.',
    );
    expect(row(c.data.codes[0]!.serial).state).toBe('unused');
    expect(redemptions(c.data.codes[0]!.serial)).toHaveLength(0);
  });

  it('a code with an ID gives a build keyed by the ID', () => {
    const code = card(1).data.codes[0]!;
    const g = redeemOfflineAsId(seller, { code: code.code, email: 'd@example.test', id: 'pat-friends', now: T0 });
    expect(profileCerts(g.profile).build).toMatchObject({ keyKind: 'id', keyLabel: 'pat-friends', serial: code.serial });
  });
});

describe('copy codes', () => {
  it("a copy code's builds take the parent's key and name it; K copies, then REFUSED", () => {
    const code = card(1).data.codes[0]!;
    const parent = redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 });
    const pc = profileCerts(parent.profile).build as BuildCert;
    const copy = insertCopyCode(parent.buildId, code.serial, 2);
    const g1 = grantRedemption(seller, { code: copy.text, email: 'e@example.test', now: T0 + 1 });
    // Two copies allowed: one granted leaves the code in use.
    expect(row(copy.serial).state).toBe('in_use');
    completeRedemption(seller, g1.redemptionId, T0 + 2);
    expect(row(copy.serial).state).toBe('in_use');
    const g2 = redeemOffline(seller, { code: copy.text, email: 'f@example.test', now: T0 + 3 });
    expect(row(copy.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 3 });
    for (const g of [g1, g2])
      expect(profileCerts(g.profile).build).toMatchObject({ keyKind: pc.keyKind, keyLabel: pc.keyLabel, copyOf: parent.buildId, serial: copy.serial });
    expect(redemptions(copy.serial).map((r) => r.copy_of)).toEqual([parent.buildId, parent.buildId]);
    expect(outcome(() => grantRedemption(seller, { code: copy.text, email: 'g@example.test', now: T0 + 4 }))).toBe('REFUSED: This code has already been used. Ask the person who gave it to you for a new one.');
  });

  it('a parent that is not a build certificate is MALFORMED', () => {
    const code = card(1).data.codes[0]!;
    const parent = redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 });
    const copy = insertCopyCode(parent.buildId, code.serial, 1);
    const cardCert = seller.db.prepare('SELECT cert FROM cards LIMIT 1').pluck().get() as Buffer;
    seller.db.prepare('UPDATE redemptions SET build_cert = ? WHERE build_id = ?').run(cardCert, parent.buildId);
    expect(outcome(() => grantRedemption(seller, { code: copy.text, email: 'e@example.test', now: T0 }))).toBe('MALFORMED: parent build certificate is not a build');
    expect(row(copy.serial).state).toBe('unused');
  });
});

describe('resume, completion and abandoned grants', () => {
  it('a token resumes until its window closes, inclusive; then EXPIRED', () => {
    const code = card(1).data.codes[0]!;
    const g = grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0, resumeWindowMs: 1000 });
    const r = resumeRedemption(seller, g.token, T0 + 1000);
    expect(r).toEqual({ redemptionId: g.redemptionId, serial: code.serial, profile: g.profile, tokenExpiresAt: T0 + 1000 });
    expect(outcome(() => resumeRedemption(seller, g.token, T0 + 1001))).toBe('EXPIRED: this download link has expired');
  });

  it('an unknown, completed or swept token is REFUSED', () => {
    const code = card(2).data.codes;
    expect(outcome(() => resumeRedemption(seller, 'x'.repeat(43), T0))).toBe('REFUSED: this download link is no longer valid');
    const g = grantRedemption(seller, { code: code[0]!.code, email: 'd@example.test', now: T0 });
    completeRedemption(seller, g.redemptionId, T0 + 1);
    expect(outcome(() => resumeRedemption(seller, g.token, T0 + 2))).toBe('REFUSED: this download link is no longer valid');
    // Completion wiped the secrets: the row holds neither profile nor token.
    expect(redemptions(code[0]!.serial)[0]).toMatchObject({ completed_at: T0 + 1, sealed_profile: null, token_hash: null });
    const g2 = grantRedemption(seller, { code: code[1]!.code, email: 'd@example.test', now: T0, resumeWindowMs: 10 });
    // A completed row with its profile still there (as an interrupted writer could leave) is refused too.
    seller.db.prepare('UPDATE redemptions SET completed_at = ? WHERE id = ?').run(T0 + 1, g2.redemptionId);
    expect(outcome(() => resumeRedemption(seller, g2.token, T0 + 2))).toBe('REFUSED: this download link is no longer valid');
    // So is a row whose profile is gone while its token hash is not.
    const g3 = grantRedemption(seller, { code: card(1).data.codes[0]!.code, email: 'd@example.test', now: T0, resumeWindowMs: 10 });
    seller.db.prepare('UPDATE redemptions SET sealed_profile = NULL WHERE id = ?').run(g3.redemptionId);
    expect(outcome(() => resumeRedemption(seller, g3.token, T0 + 2))).toBe('REFUSED: this download link is no longer valid');
  });

  it('completion is idempotent and keeps its first time; an unknown redemption is USAGE', () => {
    const code = card(1).data.codes[0]!;
    const g = grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
    completeRedemption(seller, g.redemptionId, T0 + 1);
    completeRedemption(seller, g.redemptionId, T0 + 9);
    expect(redemptions(code.serial)[0]!.completed_at).toBe(T0 + 1);
    expect(row(code.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 1 });
    expect(outcome(() => completeRedemption(seller, 'red_nope', T0))).toBe('USAGE: unknown redemption red_nope');
  });

  it('a revoked code stays revoked when its download completes', () => {
    const code = card(1).data.codes[0]!;
    const g = grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
    revokeCode(seller, code.serial, T0 + 1);
    completeRedemption(seller, g.redemptionId, T0 + 2);
    expect(row(code.serial)).toEqual({ state: 'revoked', state_changed_at: T0 + 1 });
  });

  it('sweeping closes exactly the windows that have run out, settles their codes and wipes their secrets', () => {
    sweepExpiredGrants(seller, T0 + 10 * DAY_MS); // windows left by earlier tests
    const [a, b] = card(2).data.codes;
    const ga = grantRedemption(seller, { code: a!.code, email: 'd@example.test', now: T0, resumeWindowMs: 100 });
    const gb = grantRedemption(seller, { code: b!.code, email: 'd@example.test', now: T0, resumeWindowMs: 200 });
    expect(sweepExpiredGrants(seller, T0 + 100)).toBe(0); // the last millisecond of a's window
    expect(sweepExpiredGrants(seller, T0 + 101)).toBe(1);
    expect(row(a!.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 101 });
    expect(row(b!.serial).state).toBe('in_use');
    expect(redemptions(a!.serial)[0]).toMatchObject({ sealed_profile: null, token_hash: null, completed_at: null });
    expect(outcome(() => resumeRedemption(seller, ga.token, T0 + 50))).toBe('REFUSED: this download link is no longer valid');
    expect(resumeRedemption(seller, gb.token, T0 + 150).redemptionId).toBe(gb.redemptionId);
    // A grant sweeps first: an abandoned window no longer holds its code.
    const c = card(1).data.codes[0]!;
    grantRedemption(seller, { code: c.code, email: 'd@example.test', now: T0 + 500 });
    expect(row(b!.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 500 });
    expect(sweepExpiredGrants(seller, T0 + 500)).toBe(0);
  });
});

describe('redeemOffline', () => {
  it('grants and completes in one go, at the time given', () => {
    const code = card(1).data.codes[0]!;
    const g = redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 + 3 });
    expect(row(code.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 3 });
    expect(redemptions(code.serial)[0]).toMatchObject({ id: g.redemptionId, completed_at: T0 + 3, sealed_profile: null, token_hash: null });
  });
});

/** A copy code the way grantCopyRight writes one (distributor/seller/online.ts). */
function insertCopyCode(parentBuildId: string, parentSerial: string, copies: number) {
  const c = generateCode(T0);
  const p = seller.db.prepare('SELECT card_id, group_id FROM codes WHERE serial = ?').get(parentSerial) as { card_id: string; group_id: string };
  seller.db
    .prepare(
      `INSERT INTO codes (serial, secret_hash, card_id, group_id, kind, copies_allowed, parent_build_id, build_valid_days, created_at, expires_at, state_changed_at, copy_rights)
       VALUES (?, ?, ?, ?, 'copy', ?, ?, 365, ?, ?, ?, 0)`,
    )
    .run(c.serial, secretHash(c.serial, c.secret), p.card_id, p.group_id, copies, parentBuildId, T0, T0 + 30 * DAY_MS, T0);
  return c;
}
