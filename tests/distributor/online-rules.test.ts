// Every rule of the card's online requests (distributor/seller/online.ts) on a real
// SQLite file and a real PostgreSQL database, without HTTP: challenge issue and consumption, the card checks, and
// what each request writes. Each refusal is checked to record nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fromBase64, fromUtf8, openToCard, parseCode, profileSecrets, sign, toBase64 } from '../../card/index.js';
import type { Seller } from '../../distributor/seller/seller.js';
import { CODE_BUNDLE_CONTEXT, issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline, grantRedemption } from '../../distributor/seller/redemption.js';
import { revokeBuild, revokeCard, revokeCode } from '../../distributor/seller/revoke.js';
import { DEFAULT_RULES } from '../../distributor/seller/payback.js';
import { cardStatement, chargeCard, grantCopyRight, issueChallenge, pairCards } from '../../distributor/seller/online.js';
import { outcomeOf } from '../support/outcome.js';
import { BACKENDS, makeSeller, type TestSeller } from './helpers.js';
import { CHALLENGE_TTL_MS, PAIR_KEY_CONTEXT, STATEMENT_CONTEXT, challengeMessage, type Purpose } from '../../distributor/protocol.js';

let t: TestSeller;
let seller: Seller;
const T0 = Date.UTC(2026, 0, 1);
const rules = DEFAULT_RULES;
const REFUSED = 'REFUSED: the card could not be certified: challenge unknown, used, expired or wrongly signed';
const card = (extra: { maxCodes?: number; validDays?: number; codes?: number } = {}): Promise<IssuedCard> =>
  issueCard(seller, { name: 'Pat', email: 'pat@example.test', codes: extra.codes ?? 1, now: T0, ...extra });
const keyOf = (c: IssuedCard) => fromBase64(c.data.signSecret);
const count = async (table: string) => (await seller.db.value(`SELECT COUNT(*) FROM ${table}`)) as number;
const snapshot = async () => ({ codes: await count('codes'), payments: await count('payments'), pairs: await count('pairs') });
const usedAt = async (id: string) => (await seller.db.value('SELECT used_at FROM challenges WHERE id = ?', id));

/** A challenge for `subject`, answered with `key` over `params` (signed) at `now`. */
async function answered(purpose: Purpose, subject: string, key: Uint8Array, params: Record<string, string | number>, now = T0) {
  const ch = await issueChallenge(seller, purpose, subject, now);
  const signature = toBase64(sign(key, challengeMessage({ purpose, subjectId: subject, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params })));
  return { challengeId: ch.challengeId, signature, ch };
}

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    t = await makeSeller(backend);
    seller = t.seller;
  });
  afterAll(() => t.close());

  describe('issueChallenge', () => {
    it('stores a fresh 32-byte nonce for the subject and purpose, valid for the TTL', async () => {
      const ch = await issueChallenge(seller, 'charge', 'card_x', T0);
      expect(ch.challengeId).toMatch(/^chl_/);
      expect(fromBase64(ch.nonce)).toHaveLength(32);
      expect(ch.expiresAt).toBe(T0 + CHALLENGE_TTL_MS);
      const row = (await seller.db.get('SELECT * FROM challenges WHERE id = ?', ch.challengeId)) as Record<string, unknown>;
      expect(row).toMatchObject({ subject_kind: 'card', subject_id: 'card_x', purpose: 'charge', created_at: T0, expires_at: T0 + CHALLENGE_TTL_MS, used_at: null });
      expect(Buffer.from(row.nonce as Buffer).toString('base64')).toBe(ch.nonce);
      expect(((await seller.db.value('SELECT subject_kind FROM challenges WHERE id = ?', (await issueChallenge(seller, 'copy-right', 'build_x', T0)).challengeId)))).toBe('build');
      for (const p of ['pair', 'statement'] as const)
        expect((await seller.db.value('SELECT subject_kind FROM challenges WHERE id = ?', (await issueChallenge(seller, p, 'card_x', T0)).challengeId))).toBe('card');
    });

    it('drops challenges that expired more than a TTL ago, and only those', async () => {
      const old = await issueChallenge(seller, 'charge', 'card_old', T0 - 10 * CHALLENGE_TTL_MS);
      const edge = await issueChallenge(seller, 'charge', 'card_edge', T0 - CHALLENGE_TTL_MS); // expires at T0 exactly
      await issueChallenge(seller, 'charge', 'card_now', T0 + CHALLENGE_TTL_MS);
      const ids = () => seller.db.column<string>('SELECT id FROM challenges');
      expect(await ids()).not.toContain(old.challengeId);
      expect(await ids()).toContain(edge.challengeId);
      await issueChallenge(seller, 'charge', 'card_now', T0 + 2 * CHALLENGE_TTL_MS + 1);
      expect(await ids()).not.toContain(edge.challengeId);
    });
  });

  describe('chargeCard and the challenge rules', () => {
    it('sales at the same moment never take a card past its maximum, nor one answer twice', async () => {
      const c = await card({ maxCodes: 6 });
      // 1 code on the card, room for 5: eight requests at once, each for one code.
      const answers = await Promise.all(Array.from({ length: 8 }, () => answered('charge', c.cardId, keyOf(c), { count: 1 })));
      const results = await Promise.all(answers.map((x) => outcomeOf(chargeCard(seller, rules, { ...x, cardId: c.cardId, count: 1, now: T0 }))));
      expect(results.filter((r) => r === 'ok')).toHaveLength(5);
      expect(results.filter((r) => r !== 'ok')).toEqual(Array(3).fill(`REFUSED: card ${c.cardId} may hold at most 6 codes (has 6)`));
      expect(await seller.db.value('SELECT COUNT(*) FROM codes WHERE card_id = ?', c.cardId)).toBe(6);
      // The same answer sent twice at once is taken once.
      const c2 = await card();
      const y = await answered('charge', c2.cardId, keyOf(c2), { count: 1 });
      const twice = await Promise.all([0, 1].map(() => outcomeOf(chargeCard(seller, rules, { ...y, cardId: c2.cardId, count: 1, now: T0 }))));
      expect(twice.sort()).toEqual(['ok', REFUSED].sort());
    });

    it('a signed fresh challenge buys codes sealed to the card, paid at the code price, once', async () => {
      const c = await card({ maxCodes: 10 });
      const a = await answered('charge', c.cardId, keyOf(c), { count: 2 });
      const before = await snapshot();
      const r = await chargeCard(seller, rules, { challengeId: a.challengeId, cardId: c.cardId, count: 2, signature: a.signature, now: T0 + 1 });
      expect(r.cardId).toBe(c.cardId);
      expect(r.serials).toHaveLength(2);
      const bundle = JSON.parse(fromUtf8(openToCard(fromBase64(c.data.kxSecret), CODE_BUNDLE_CONTEXT, fromBase64(r.bundle))));
      expect(bundle.codes.map((x: { serial: string }) => x.serial)).toEqual(r.serials);
      expect((await seller.db.get('SELECT amount_cents, currency, reference, quantity FROM payments WHERE id = ?', r.paymentId))).toEqual({
        amount_cents: 2 * rules.codePriceCents,
        currency: rules.currency,
        reference: 'online charge',
        quantity: 2,
      });
      expect(await snapshot()).toEqual({ ...before, codes: before.codes + 2, payments: before.payments + 1 });
      expect(await usedAt(a.challengeId)).toBe(T0 + 1);
      // The same answer again: a replay.
      expect((await outcomeOf(chargeCard(seller, rules, { challengeId: a.challengeId, cardId: c.cardId, count: 2, signature: a.signature, now: T0 + 2 })))).toBe(REFUSED);
    });

    it('refuses an unknown challenge, another subject, another purpose, a wrong key, other parameters, a garbled signature', async () => {
      const c = await card({ maxCodes: 10 });
      const other = await card();
      const before = await snapshot();
      const tryCharge = async (x: { challengeId: string; signature: string }, cardId = c.cardId, n = 1) =>
        (await outcomeOf(chargeCard(seller, rules, { challengeId: x.challengeId, cardId, count: n, signature: x.signature, now: T0 })));
      const good = await answered('charge', c.cardId, keyOf(c), { count: 1 });
      expect(await tryCharge({ ...good, challengeId: 'chl_unknown' })).toBe(REFUSED);
      // Issued for the other card, signed by c: the subject does not match.
      const forOther = await answered('charge', other.cardId, keyOf(c), { count: 1 });
      expect(await tryCharge(forOther)).toBe(REFUSED);
      const forPair = await answered('pair', c.cardId, keyOf(c), { count: 1 });
      expect(await tryCharge(forPair)).toBe(REFUSED);
      expect(await tryCharge(await answered('charge', c.cardId, keyOf(other), { count: 1 }))).toBe(REFUSED);
      expect(await tryCharge(good, c.cardId, 2)).toBe(REFUSED);
      // Rightly signed for what it claims, but the challenge was issued for another
      // subject or purpose: only the stored challenge can tell.
      const issuedForOther = await issueChallenge(seller, 'charge', other.cardId, T0);
      const issuedForPair = await issueChallenge(seller, 'pair', c.cardId, T0);
      for (const ch of [issuedForOther, issuedForPair]) {
        const msg = challengeMessage({ purpose: 'charge', subjectId: c.cardId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: { count: 1 } });
        expect(await tryCharge({ challengeId: ch.challengeId, signature: toBase64(sign(keyOf(c), msg)) })).toBe(REFUSED);
      }
      expect(await tryCharge({ ...good, signature: '%%%' })).toBe(REFUSED);
      expect(await tryCharge({ ...good, signature: '' })).toBe(REFUSED);
      expect(await snapshot()).toEqual(before);
      expect(await usedAt(good.challengeId)).toBeNull();
      // An unknown card is refused the same way as a wrong signature.
      const ghost = await answered('charge', 'card_ghost', keyOf(c), { count: 1 });
      expect(await tryCharge(ghost, 'card_ghost')).toBe(REFUSED);
      expect(await tryCharge(good)).toBe('ok');
    });

    it('a challenge answered after its expiry is EXPIRED; at the last millisecond it still holds', async () => {
      const c = await card({ maxCodes: 10 });
      const late = await answered('charge', c.cardId, keyOf(c), { count: 1 });
      expect((await outcomeOf(chargeCard(seller, rules, { ...late, cardId: c.cardId, count: 1, now: late.ch.expiresAt + 1 })))).toBe(
        'EXPIRED: the challenge has expired: ask for a new one',
      );
      expect(await usedAt(late.challengeId)).toBeNull();
      expect((await outcomeOf(chargeCard(seller, rules, { ...late, cardId: c.cardId, count: 1, now: late.ch.expiresAt })))).toBe('ok');
    });

    it('a request refused after the challenge leaves the challenge unused and nothing recorded', async () => {
      const c = await card({ maxCodes: 1 });
      const a = await answered('charge', c.cardId, keyOf(c), { count: 5 });
      const before = await snapshot();
      expect((await outcomeOf(chargeCard(seller, rules, { ...a, cardId: c.cardId, count: 5, now: T0 })))).toMatch(/^REFUSED: /);
      expect(await usedAt(a.challengeId)).toBeNull();
      expect(await snapshot()).toEqual(before);
    });

    it('a revoked card is REVOKED and an expired one EXPIRED, before any challenge is spent', async () => {
      const r = await card();
      const a = await answered('charge', r.cardId, keyOf(r), { count: 1 });
      await revokeCard(seller, r.cardId, T0);
      expect((await outcomeOf(chargeCard(seller, rules, { ...a, cardId: r.cardId, count: 1, now: T0 })))).toBe(`REVOKED: card ${r.cardId} is revoked`);
      expect(await usedAt(a.challengeId)).toBeNull();
      const e = await card({ validDays: 1 });
      const expires = (await seller.db.value('SELECT expires_at FROM cards WHERE id = ?', e.cardId)) as number;
      const b = await answered('charge', e.cardId, keyOf(e), { count: 1 }, expires - 1);
      expect((await outcomeOf(chargeCard(seller, rules, { ...b, cardId: e.cardId, count: 1, now: expires + 1 })))).toMatch(/^(EXPIRED: card .* has expired)$/);
      expect((await outcomeOf(chargeCard(seller, rules, { ...b, cardId: e.cardId, count: 1, now: expires })))).toBe('ok');
      // Pairing and statements have no other expiry check than the card's.
      const st = await answered('statement', e.cardId, keyOf(e), {}, expires - 1);
      expect((await outcomeOf(cardStatement(seller, rules, { ...st, cardId: e.cardId, now: expires + 1 })))).toBe(`EXPIRED: card ${e.cardId} has expired`);
    });
  });

  describe('pairCards', () => {
    it('both cards get the same new key, each sealed to its own key', async () => {
      const a = await card();
      const b = await card();
      const x = await answered('pair', a.cardId, keyOf(a), { withCardId: b.cardId });
      const r = await pairCards(seller, { ...x, cardId: a.cardId, withCardId: b.cardId, now: T0 + 3 });
      expect([r.cardA, r.cardB]).toEqual([a.cardId, b.cardId]);
      expect(r.pairId).toMatch(/^pair_/);
      const forA = JSON.parse(fromUtf8(openToCard(fromBase64(a.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forA))));
      const forB = JSON.parse(fromUtf8(openToCard(fromBase64(b.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forB))));
      expect(forA).toEqual(forB);
      expect(forA).toMatchObject({ sealcode: 'pair-key', v: 1, pairId: r.pairId, cardA: a.cardId, cardB: b.cardId });
      expect(fromBase64(forA.key)).toHaveLength(32);
      expect((await outcomeOf((async () => openToCard(fromBase64(b.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forA)))()))).toMatch(/^REFUSED/);
      expect((await seller.db.get('SELECT card_a, card_b, created_at FROM pairs WHERE id = ?', r.pairId))).toEqual({ card_a: a.cardId, card_b: b.cardId, created_at: T0 + 3 });
    });

    it('refuses an unknown or revoked partner, and itself, recording nothing', async () => {
      const a = await card();
      const b = await card();
      const before = await snapshot();
      const pair = async (withCardId: string) => {
        const x = await answered('pair', a.cardId, keyOf(a), { withCardId });
        return (await outcomeOf(pairCards(seller, { ...x, cardId: a.cardId, withCardId, now: T0 })));
      };
      expect(await pair('card_nobody')).toBe('USAGE: unknown card card_nobody');
      expect(await pair(a.cardId)).toBe('USAGE: a card cannot pair with itself');
      await revokeCard(seller, b.cardId, T0);
      expect(await pair(b.cardId)).toBe(`REVOKED: card ${b.cardId} is revoked`);
      expect(await snapshot()).toEqual(before);
      // An unknown asking card: refused like a bad signature.
      const x = await answered('pair', 'card_ghost', keyOf(a), { withCardId: a.cardId });
      expect((await outcomeOf(pairCards(seller, { ...x, cardId: 'card_ghost', withCardId: a.cardId, now: T0 })))).toBe(REFUSED);
    });
  });

  describe('cardStatement', () => {
    it('the pay-back entries and their totals, sealed to the card', async () => {
      const c = await card();
      const pid = c.data.purchaser.id;
      const ins = (...p: [string, string, string, string, number, number, number]) =>
        seller.db.run('INSERT INTO paybacks (id, purchaser_id, rule, source, amount_cents, points, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', ...p);
      await ins('pb_1', pid, 'manual', 's1', 250, 3, T0);
      await ins('pb_2', pid, 'manual', 's2', 100, 4, T0 + 1);
      const x = await answered('statement', c.cardId, keyOf(c), {});
      const r = await cardStatement(seller, rules, { ...x, cardId: c.cardId, now: T0 + 5 });
      expect(r.cardId).toBe(c.cardId);
      const st = JSON.parse(fromUtf8(openToCard(fromBase64(c.data.kxSecret), STATEMENT_CONTEXT, fromBase64(r.sealed))));
      expect(st).toEqual({
        sealcode: 'statement',
        v: 1,
        cardId: c.cardId,
        purchaserId: pid,
        issuedAt: T0 + 5,
        currency: rules.currency,
        entries: [
          { rule: 'manual', source: 's1', amountCents: 250, points: 3, at: T0 },
          { rule: 'manual', source: 's2', amountCents: 100, points: 4, at: T0 + 1 },
        ],
        totalCents: 350,
        totalPoints: 7,
      });
      expect((await outcomeOf(cardStatement(seller, rules, { ...x, cardId: c.cardId, now: T0 + 6 })))).toBe(REFUSED);
    });
  });

  describe('grantCopyRight', () => {
    function build(c: IssuedCard, i = 0) {
      return redeemOffline(seller, { code: c.data.codes[i]!.code, email: 'd@example.test', now: T0 });
    }
    const ask = async (g: Awaited<ReturnType<typeof build>>, copies: number, now = T0, validDays?: number) => {
      const key = profileSecrets(g.profile).buildSecret;
      const x = await answered('copy-right', g.buildId, key, { copies }, now);
      return () => grantCopyRight(seller, { ...x, buildId: g.buildId, copies, now, validDays });
    };

    it('a copy code of the parent build: its card and group, K redemptions, the parent’s build validity, 30 days to redeem', async () => {
      const c = await card();
      const g = await build(c);
      const r = (await (await ask(g, 2, T0 + 7))());
      expect(r).toMatchObject({ copies: 2, parentBuildId: g.buildId, expires: T0 + 7 + 30 * DAY_MS });
      expect(parseCode(r.code).serial).toBe(r.serial);
      const row = (await seller.db.get('SELECT * FROM codes WHERE serial = ?', r.serial)) as Record<string, unknown>;
      const parent = (await seller.db.get('SELECT * FROM codes WHERE serial = ?', g.serial)) as Record<string, unknown>;
      expect(row).toMatchObject({
        card_id: c.cardId,
        group_id: parent.group_id,
        kind: 'copy',
        state: 'unused',
        copies_allowed: 2,
        parent_build_id: g.buildId,
        build_valid_days: parent.build_valid_days,
        created_at: T0 + 7,
        expires_at: T0 + 7 + 30 * DAY_MS,
        state_changed_at: T0 + 7,
        copy_rights: 0,
      });
      expect((await (await ask(g, 1, T0, 2))()).expires).toBe(T0 + 2 * DAY_MS);
      // The copy code works: its build names the parent.
      expect((await grantRedemption(seller, { code: r.code, email: 'e@example.test', now: T0 + 8 })).profile.buildCert).toBeTruthy();
    });

    it('counts copies already given across all builds of the code: 3 in all by default', async () => {
      const g = await build(await card());
      expect(await outcomeOf((await ask(g, 4))())).toBe('REFUSED: this code allows 3 copies in all; 3 remain');
      expect(await outcomeOf((await ask(g, 2))())).toBe('ok');
      expect(await outcomeOf((await ask(g, 2))())).toBe('REFUSED: this code allows 3 copies in all; 1 remain');
      expect(await outcomeOf((await ask(g, 1))())).toBe('ok');
      expect(await outcomeOf((await ask(g, 1))())).toBe('REFUSED: this code allows 3 copies in all; 0 remain');
      // Rights lowered below what was given: "0 remain", never a negative number.
      (await seller.db.run('UPDATE codes SET copy_rights = 1 WHERE serial = ?', g.serial));
      expect(await outcomeOf((await ask(g, 1))())).toBe('REFUSED: this code allows 1 copies in all; 0 remain');
    });

    it('refuses an unknown, revoked, expired or copied build, and a build of a revoked code, recording nothing', async () => {
      const c = await card({ codes: 3 });
      const before = () => count('codes');
      const n = await before();
      const x = await answered('copy-right', 'build_ghost', new Uint8Array(32), { copies: 1 });
      expect((await outcomeOf(grantCopyRight(seller, { ...x, buildId: 'build_ghost', copies: 1, now: T0 })))).toBe(REFUSED);
      const revoked = await build(c, 0);
      const askRevoked = await ask(revoked, 1);
      await revokeBuild(seller, revoked.buildId, T0);
      expect(await outcomeOf(askRevoked())).toBe('REVOKED: this build has been revoked');
      const old = await build(c, 1);
      const expiry = (await seller.db.value('SELECT build_expires_at FROM redemptions WHERE build_id = ?', old.buildId)) as number;
      expect(await outcomeOf((await ask(old, 1, expiry + 1))())).toBe('EXPIRED: this build has expired');
      expect(await outcomeOf((await ask(old, 1, expiry))())).toBe('ok');
      const codeRevoked = await build(c, 2);
      await revokeCode(seller, codeRevoked.serial, T0);
      expect(await outcomeOf((await ask(codeRevoked, 1))())).toBe("REVOKED: this build's code has been revoked");
      expect(await before()).toBe(n + 1);
      // A copy's build cannot hand out rights of its own.
      const parent = await build(await card());
      const copy = (await (await ask(parent, 1))());
      const child = await redeemOffline(seller, { code: copy.code, email: 'e@example.test', now: T0 });
      expect(await outcomeOf((await ask(child, 1))())).toBe('REFUSED: a copy cannot hand out further copy rights');
    });

    it('a card key cannot answer for a build', async () => {
      const c = await card();
      const g = await build(c);
      const x = await answered('copy-right', g.buildId, keyOf(c), { copies: 1 });
      expect((await outcomeOf(grantCopyRight(seller, { ...x, buildId: g.buildId, copies: 1, now: T0 })))).toBe(REFUSED);
    });
  });
});
