// Every rule and state change of redemption (distributor/seller/redemption.ts), on a real
// SQLite file and a real PostgreSQL database: each case breaks one condition and checks the error, that nothing was
// recorded, and the code's state; each boundary is tried on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, formatCode, generateCode, parseCode, profileCerts, secretHash, type BuildCert } from '../../card/index.js';
import type { Seller } from '../../distributor/seller/seller.js';
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
import { outcomeOf } from '../support/outcome.js';
import { BACKENDS, makeSeller, type TestSeller } from './helpers.js';

let t: TestSeller;
let seller: Seller;
const T0 = Date.UTC(2026, 0, 1);

const card = (codes = 3, extra: { codeValidDays?: number } = {}): Promise<IssuedCard> =>
  issueCard(seller, { name: 'Pat', email: 'pat@example.test', codes, now: T0, ...extra });
const row = async (serial: string) => (await seller.db.get('SELECT state, state_changed_at FROM codes WHERE serial = ?', serial)) as { state: string; state_changed_at: number };
const redemptions = async (serial: string) =>
  (await seller.db.all('SELECT * FROM redemptions WHERE serial = ? ORDER BY granted_at, id', serial)) as Record<string, unknown>[];
const INVALID = 'BAD_CODE: This code is not valid. Check it against what you were given and type it again; dashes and upper or lower case do not matter.';

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    t = await makeSeller(backend);
    seller = t.seller;
  });
  afterAll(() => t.close());

  describe('checkCode', () => {
    it('returns the row of a right code, typed in any harmless way', async () => {
      const c = (await card(1)).data.codes[0]!;
      const r = await checkCode(seller, c.code.toLowerCase().replace(/-/g, ' '));
      expect(r.serial).toBe(c.serial);
      expect(r.state).toBe('unused');
    });

    it('a wrong secret and an unknown serial give one message', async () => {
      const [a, b] = (await card(2)).data.codes;
      // a's serial with b's secret: well formed, check characters right, secret wrong.
      const secretOf = (text: string) => parseCode(text).secret;
      expect((await outcomeOf(checkCode(seller, formatCode(a!.serial, secretOf(b!.code)))))).toBe(INVALID);
      expect((await outcomeOf(checkCode(seller, formatCode('0000000000', secretOf(b!.code)))))).toBe(INVALID);
      expect((await outcomeOf(checkCode(seller, formatCode(a!.serial, secretOf(a!.code)))))).toBe('ok');
    });
  });

  describe('grantRedemption', () => {
    it('one code typed by many at the same moment is granted once', async () => {
      const code = (await card(1)).data.codes[0]!;
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => outcomeOf(grantRedemption(seller, { code: code.code, email: `p${i}@example.test`, now: T0 }))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r.startsWith('REFUSED: This code is being redeemed with another email address'))).toHaveLength(11);
      expect(await redemptions(code.serial)).toHaveLength(1);
      expect((await row(code.serial)).state).toBe('in_use');
    });

    it('grants a fresh code: in_use from now, a build for its serial, a token for the resume window', async () => {
      const c = await card(1);
      const code = c.data.codes[0]!;
      const g = await grantRedemption(seller, { code: code.code, email: '  dana@example.test ', now: T0 + 5 });
      expect(await row(code.serial)).toEqual({ state: 'in_use', state_changed_at: T0 + 5 });
      expect(g.serial).toBe(code.serial);
      expect(g.tokenExpiresAt).toBe(T0 + 5 + DEFAULT_RESUME_WINDOW_MS);
      expect(DEFAULT_RESUME_WINDOW_MS).toBe(15 * 60 * 1000);
      expect(g.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const b = profileCerts(g.profile).build as BuildCert;
      expect(b).toMatchObject({ serial: code.serial, keyKind: 'code', keyLabel: code.serial, cardId: c.cardId, redeemerEmail: 'dana@example.test', copyOf: '' });
      expect(b.notAfter).toBe(T0 + 5 + 365 * DAY_MS);
      const [r] = await redemptions(code.serial);
      expect(r).toMatchObject({ id: g.redemptionId, build_id: g.buildId, redeemer_email: 'dana@example.test', granted_at: T0 + 5, token_expires_at: g.tokenExpiresAt, copy_of: null });
      expect(r!.sealed_profile).not.toBeNull();
      expect(r!.token_hash).toHaveLength(32);
      expect((await resumeRedemption(seller, g.token, T0 + 6)).profile).toEqual(g.profile);
    });

    it('the same email again, before the download, is the same grant, marked as shown again', async () => {
      const code = (await card(1)).data.codes[0]!;
      const first = await grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
      const again = await grantRedemption(seller, { code: code.code, email: 'D@Example.test', now: T0 + 1 });
      expect(first.resumed).toBe(false);
      expect(again).toMatchObject({ resumed: true, token: first.token, redemptionId: first.redemptionId, buildId: first.buildId });
      expect(await redemptions(code.serial)).toHaveLength(1);
    });

    it('a resume window of the caller’s choosing', async () => {
      const code = (await card(1)).data.codes[0]!;
      expect((await grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0, resumeWindowMs: 7 })).tokenExpiresAt).toBe(T0 + 7);
    });

    it('needs a plausible email address, and records nothing without one', async () => {
      const code = (await card(1)).data.codes[0]!;
      expect((await outcomeOf(grantRedemption(seller, { code: code.code, email: '  ', now: T0 })))).toBe('USAGE: Type an email address.');
      expect((await outcomeOf(grantRedemption(seller, { code: code.code, email: `${'a'.repeat(250)}@b.cd`, now: T0 })))).toBe('USAGE: An email address may have at most 254 characters.');
      expect((await outcomeOf(grantRedemption(seller, { code: code.code, email: 'a\u202e@example.test', now: T0 })))).toBe('USAGE: An email address must not contain control or text-direction characters.');
      for (const email of ['no-at', '@example.test', 'a@', 'a b@example.test', 'a@b c', 'a@b'])
        expect((await outcomeOf(grantRedemption(seller, { code: code.code, email, now: T0 }))), email).toBe('USAGE: Type a whole email address, like name@example.org.');
      expect((await outcomeOf(grantRedemption(seller, { code: code.code, email: `${'a'.repeat(249)}@b.cd`, now: T0 })))).toBe('ok');
      expect(await redemptions(code.serial)).toHaveLength(1);
    });

    it('a revoked code is REVOKED and stays revoked', async () => {
      const code = (await card(1)).data.codes[0]!;
      await revokeCode(seller, code.serial, T0);
      expect((await outcomeOf(grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 })))).toBe('REVOKED: This code has been withdrawn by the person who gave it to you. Ask them for a new one.');
      expect((await row(code.serial)).state).toBe('revoked');
      expect(await redemptions(code.serial)).toHaveLength(0);
    });

    it('an expired code is EXPIRED from the millisecond after its expiry', async () => {
      const code = (await card(2, { codeValidDays: 1 })).data.codes;
      const expires = T0 + DAY_MS;
      expect((await outcomeOf(grantRedemption(seller, { code: code[0]!.code, email: 'd@example.test', now: expires + 1 })))).toBe('EXPIRED: This code has expired. Ask the person who gave it to you for a new one.');
      expect((await row(code[0]!.serial)).state).toBe('unused');
      expect(await redemptions(code[0]!.serial)).toHaveLength(0);
      expect((await outcomeOf(grantRedemption(seller, { code: code[1]!.code, email: 'd@example.test', now: expires })))).toBe('ok');
    });

    it('a used code, or one whose redemptions are all taken, is REFUSED', async () => {
      const [a, b] = (await card(2)).data.codes;
      await redeemOffline(seller, { code: a!.code, email: 'd@example.test', now: T0 });
      expect((await row(a!.serial)).state).toBe('already_used');
      expect((await outcomeOf(grantRedemption(seller, { code: a!.code, email: 'd@example.test', now: T0 })))).toBe('REFUSED: This code has already been used. Ask the person who gave it to you for a new one.');
      // Granted but not yet downloaded: in_use, taken for any other email (the same one sees its link again).
      await grantRedemption(seller, { code: b!.code, email: 'd@example.test', now: T0 });
      expect((await outcomeOf(grantRedemption(seller, { code: b!.code, email: 'e@example.test', now: T0 + 1 })))).toBe(
        'REFUSED: This code is being redeemed with another email address. If that was you, type the address you used then; otherwise ask the person who gave you the code for a new one.',
      );
      expect(await redemptions(b!.serial)).toHaveLength(1);
      expect(await row(b!.serial)).toEqual({ state: 'in_use', state_changed_at: T0 });
    });

    it("a revoked purchaser's card: its codes are REVOKED at redemption", async () => {
      const c = await card(1);
      await revokeCard(seller, c.cardId, T0);
      expect((await outcomeOf(grantRedemption(seller, { code: c.data.codes[0]!.code, email: 'd@example.test', now: T0 })))).toBe(
        'REVOKED: The card of the person who gave you this code has been withdrawn, so the code cannot be used. Ask them what to do.',
      );
      expect((await row(c.data.codes[0]!.serial)).state).toBe('unused');
      expect(await redemptions(c.data.codes[0]!.serial)).toHaveLength(0);
    });

    it('a code with an ID gives a build keyed by the ID', async () => {
      const code = (await card(1)).data.codes[0]!;
      const g = await redeemOfflineAsId(seller, { code: code.code, email: 'd@example.test', id: 'pat-friends', now: T0 });
      expect(profileCerts(g.profile).build).toMatchObject({ keyKind: 'id', keyLabel: 'pat-friends', serial: code.serial });
    });
  });

  describe('copy codes', () => {
    it("a copy code's builds take the parent's key and name it; K copies, then REFUSED", async () => {
      const code = (await card(1)).data.codes[0]!;
      const parent = await redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 });
      const pc = profileCerts(parent.profile).build as BuildCert;
      const copy = await insertCopyCode(parent.buildId, code.serial, 2);
      const g1 = await grantRedemption(seller, { code: copy.text, email: 'e@example.test', now: T0 + 1 });
      // Two copies allowed: one granted leaves the code in use.
      expect((await row(copy.serial)).state).toBe('in_use');
      await completeRedemption(seller, g1.redemptionId, T0 + 2);
      expect((await row(copy.serial)).state).toBe('in_use');
      const g2 = await redeemOffline(seller, { code: copy.text, email: 'f@example.test', now: T0 + 3 });
      expect(await row(copy.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 3 });
      for (const g of [g1, g2])
        expect(profileCerts(g.profile).build).toMatchObject({ keyKind: pc.keyKind, keyLabel: pc.keyLabel, copyOf: parent.buildId, serial: copy.serial });
      expect((await redemptions(copy.serial)).map((r) => r.copy_of)).toEqual([parent.buildId, parent.buildId]);
      expect((await outcomeOf(grantRedemption(seller, { code: copy.text, email: 'g@example.test', now: T0 + 4 })))).toBe('REFUSED: This code has already been used. Ask the person who gave it to you for a new one.');
    });

    it('a parent that is not a build certificate is MALFORMED', async () => {
      const code = (await card(1)).data.codes[0]!;
      const parent = await redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 });
      const copy = await insertCopyCode(parent.buildId, code.serial, 1);
      const cardCert = (await seller.db.value('SELECT cert FROM cards LIMIT 1')) as Buffer;
      (await seller.db.run('UPDATE redemptions SET build_cert = ? WHERE build_id = ?', cardCert, parent.buildId));
      expect((await outcomeOf(grantRedemption(seller, { code: copy.text, email: 'e@example.test', now: T0 })))).toBe('MALFORMED: parent build certificate is not a build');
      expect((await row(copy.serial)).state).toBe('unused');
    });
  });

  describe('resume, completion and abandoned grants', () => {
    it('a token resumes until its window closes, inclusive; then EXPIRED', async () => {
      const code = (await card(1)).data.codes[0]!;
      const g = await grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0, resumeWindowMs: 1000 });
      const r = await resumeRedemption(seller, g.token, T0 + 1000);
      expect(r).toEqual({ redemptionId: g.redemptionId, serial: code.serial, profile: g.profile, tokenExpiresAt: T0 + 1000 });
      expect((await outcomeOf(resumeRedemption(seller, g.token, T0 + 1001)))).toBe('EXPIRED: this download link has expired');
    });

    it('an unknown, completed or swept token is REFUSED', async () => {
      const code = (await card(2)).data.codes;
      expect((await outcomeOf(resumeRedemption(seller, 'x'.repeat(43), T0)))).toBe('REFUSED: this download link is no longer valid');
      const g = await grantRedemption(seller, { code: code[0]!.code, email: 'd@example.test', now: T0 });
      await completeRedemption(seller, g.redemptionId, T0 + 1);
      expect((await outcomeOf(resumeRedemption(seller, g.token, T0 + 2)))).toBe('REFUSED: this download link is no longer valid');
      // Completion wiped the secrets: the row holds neither profile nor token.
      expect((await redemptions(code[0]!.serial))[0]).toMatchObject({ completed_at: T0 + 1, sealed_profile: null, token_hash: null });
      const g2 = await grantRedemption(seller, { code: code[1]!.code, email: 'd@example.test', now: T0, resumeWindowMs: 10 });
      // A completed row with its profile still there (as an interrupted writer could leave) is refused too.
      (await seller.db.run('UPDATE redemptions SET completed_at = ? WHERE id = ?', T0 + 1, g2.redemptionId));
      expect((await outcomeOf(resumeRedemption(seller, g2.token, T0 + 2)))).toBe('REFUSED: this download link is no longer valid');
      // So is a row whose profile is gone while its token hash is not.
      const g3 = await grantRedemption(seller, { code: (await card(1)).data.codes[0]!.code, email: 'd@example.test', now: T0, resumeWindowMs: 10 });
      (await seller.db.run('UPDATE redemptions SET sealed_profile = NULL WHERE id = ?', g3.redemptionId));
      expect((await outcomeOf(resumeRedemption(seller, g3.token, T0 + 2)))).toBe('REFUSED: this download link is no longer valid');
    });

    it('completion is idempotent and keeps its first time; an unknown redemption is USAGE', async () => {
      const code = (await card(1)).data.codes[0]!;
      const g = await grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
      await completeRedemption(seller, g.redemptionId, T0 + 1);
      await completeRedemption(seller, g.redemptionId, T0 + 9);
      expect((await redemptions(code.serial))[0]!.completed_at).toBe(T0 + 1);
      expect(await row(code.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 1 });
      expect((await outcomeOf(completeRedemption(seller, 'red_nope', T0)))).toBe('USAGE: unknown redemption red_nope');
    });

    it('a revoked code stays revoked when its download completes', async () => {
      const code = (await card(1)).data.codes[0]!;
      const g = await grantRedemption(seller, { code: code.code, email: 'd@example.test', now: T0 });
      await revokeCode(seller, code.serial, T0 + 1);
      await completeRedemption(seller, g.redemptionId, T0 + 2);
      expect(await row(code.serial)).toEqual({ state: 'revoked', state_changed_at: T0 + 1 });
    });

    it('sweeping closes exactly the windows that have run out, settles their codes and wipes their secrets', async () => {
      await sweepExpiredGrants(seller, T0 + 10 * DAY_MS); // windows left by earlier tests
      const [a, b] = (await card(2)).data.codes;
      const ga = await grantRedemption(seller, { code: a!.code, email: 'd@example.test', now: T0, resumeWindowMs: 100 });
      const gb = await grantRedemption(seller, { code: b!.code, email: 'd@example.test', now: T0, resumeWindowMs: 200 });
      expect(await sweepExpiredGrants(seller, T0 + 100)).toBe(0); // the last millisecond of a's window
      expect(await sweepExpiredGrants(seller, T0 + 101)).toBe(1);
      expect(await row(a!.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 101 });
      expect((await row(b!.serial)).state).toBe('in_use');
      expect((await redemptions(a!.serial))[0]).toMatchObject({ sealed_profile: null, token_hash: null, completed_at: null });
      expect((await outcomeOf(resumeRedemption(seller, ga.token, T0 + 50)))).toBe('REFUSED: this download link is no longer valid');
      expect((await resumeRedemption(seller, gb.token, T0 + 150)).redemptionId).toBe(gb.redemptionId);
      // A grant sweeps first: an abandoned window no longer holds its code.
      const c = (await card(1)).data.codes[0]!;
      await grantRedemption(seller, { code: c.code, email: 'd@example.test', now: T0 + 500 });
      expect(await row(b!.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 500 });
      expect(await sweepExpiredGrants(seller, T0 + 500)).toBe(0);
    });
  });

  describe('redeemOffline', () => {
    it('grants and completes in one go, at the time given', async () => {
      const code = (await card(1)).data.codes[0]!;
      const g = await redeemOffline(seller, { code: code.code, email: 'd@example.test', now: T0 + 3 });
      expect(await row(code.serial)).toEqual({ state: 'already_used', state_changed_at: T0 + 3 });
      expect((await redemptions(code.serial))[0]).toMatchObject({ id: g.redemptionId, completed_at: T0 + 3, sealed_profile: null, token_hash: null });
    });
  });
});

/** A copy code the way grantCopyRight writes one (distributor/seller/online.ts). */
async function insertCopyCode(parentBuildId: string, parentSerial: string, copies: number) {
  const c = generateCode(T0);
  const p = (await seller.db.get('SELECT card_id, group_id FROM codes WHERE serial = ?', parentSerial)) as { card_id: string; group_id: string };
  (await seller.db.run(`INSERT INTO codes (serial, secret_hash, card_id, group_id, kind, copies_allowed, parent_build_id, build_valid_days, created_at, expires_at, state_changed_at, copy_rights)
       VALUES (?, ?, ?, ?, 'copy', ?, ?, 365, ?, ?, ?, 0)`, c.serial, secretHash(c.serial, c.secret), p.card_id, p.group_id, copies, parentBuildId, T0, T0 + 30 * DAY_MS, T0));
  return c;
}
