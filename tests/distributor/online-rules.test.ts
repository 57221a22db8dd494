// Every rule of the card's online requests (distributor/seller/online.ts) on a real
// SQLite file, without HTTP: challenge issue and consumption, the card checks, and
// what each request writes. Each refusal is checked to record nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAY_MS, fromBase64, fromUtf8, openToCard, parseCode, profileSecrets, sign, toBase64 } from '../../card/index.js';
import { initSeller, openSeller, type Seller } from '../../distributor/seller/seller.js';
import { CODE_BUNDLE_CONTEXT, issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline, grantRedemption } from '../../distributor/seller/redemption.js';
import { revokeBuild, revokeCard, revokeCode } from '../../distributor/seller/revoke.js';
import { DEFAULT_RULES } from '../../distributor/seller/payback.js';
import { cardStatement, chargeCard, grantCopyRight, issueChallenge, pairCards } from '../../distributor/seller/online.js';
import { outcome } from '../support/outcome.js';
import { CHALLENGE_TTL_MS, PAIR_KEY_CONTEXT, STATEMENT_CONTEXT, challengeMessage, type Purpose } from '../../distributor/protocol.js';

const dir = mkdtempSync(join(tmpdir(), 'sealcode-online-rules-'));
let seller: Seller;
const T0 = Date.UTC(2026, 0, 1);
const rules = DEFAULT_RULES;
beforeAll(() => {
  initSeller(dir);
  seller = openSeller(dir);
});
afterAll(() => {
  seller.close();
  rmSync(dir, { recursive: true, force: true });
});

const REFUSED = 'REFUSED: the card could not be certified: challenge unknown, used, expired or wrongly signed';
const card = (extra: { maxCodes?: number; validDays?: number; codes?: number } = {}): IssuedCard =>
  issueCard(seller, { name: 'Pat', email: 'pat@example.test', codes: extra.codes ?? 1, now: T0, ...extra });
const keyOf = (c: IssuedCard) => fromBase64(c.data.signSecret);
const count = (table: string) => seller.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
const snapshot = () => ({ codes: count('codes'), payments: count('payments'), pairs: count('pairs') });
const usedAt = (id: string) => seller.db.prepare('SELECT used_at FROM challenges WHERE id = ?').pluck().get(id);

/** A challenge for `subject`, answered with `key` over `params` (signed) at `now`. */
function answered(purpose: Purpose, subject: string, key: Uint8Array, params: Record<string, string | number>, now = T0) {
  const ch = issueChallenge(seller, purpose, subject, now);
  const signature = toBase64(sign(key, challengeMessage({ purpose, subjectId: subject, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params })));
  return { challengeId: ch.challengeId, signature, ch };
}

describe('issueChallenge', () => {
  it('stores a fresh 32-byte nonce for the subject and purpose, valid for the TTL', () => {
    const ch = issueChallenge(seller, 'charge', 'card_x', T0);
    expect(ch.challengeId).toMatch(/^chl_/);
    expect(fromBase64(ch.nonce)).toHaveLength(32);
    expect(ch.expiresAt).toBe(T0 + CHALLENGE_TTL_MS);
    const row = seller.db.prepare('SELECT * FROM challenges WHERE id = ?').get(ch.challengeId) as Record<string, unknown>;
    expect(row).toMatchObject({ subject_kind: 'card', subject_id: 'card_x', purpose: 'charge', created_at: T0, expires_at: T0 + CHALLENGE_TTL_MS, used_at: null });
    expect(Buffer.from(row.nonce as Buffer).toString('base64')).toBe(ch.nonce);
    expect((seller.db.prepare('SELECT subject_kind FROM challenges WHERE id = ?').pluck().get(issueChallenge(seller, 'copy-right', 'build_x', T0).challengeId))).toBe('build');
    for (const p of ['pair', 'statement'] as const)
      expect(seller.db.prepare('SELECT subject_kind FROM challenges WHERE id = ?').pluck().get(issueChallenge(seller, p, 'card_x', T0).challengeId)).toBe('card');
  });

  it('drops challenges that expired more than a TTL ago, and only those', () => {
    const old = issueChallenge(seller, 'charge', 'card_old', T0 - 10 * CHALLENGE_TTL_MS);
    const edge = issueChallenge(seller, 'charge', 'card_edge', T0 - CHALLENGE_TTL_MS); // expires at T0 exactly
    issueChallenge(seller, 'charge', 'card_now', T0 + CHALLENGE_TTL_MS);
    const ids = () => seller.db.prepare('SELECT id FROM challenges').pluck().all();
    expect(ids()).not.toContain(old.challengeId);
    expect(ids()).toContain(edge.challengeId);
    issueChallenge(seller, 'charge', 'card_now', T0 + 2 * CHALLENGE_TTL_MS + 1);
    expect(ids()).not.toContain(edge.challengeId);
  });
});

describe('chargeCard and the challenge rules', () => {
  it('a signed fresh challenge buys codes sealed to the card, paid at the code price, once', () => {
    const c = card({ maxCodes: 10 });
    const a = answered('charge', c.cardId, keyOf(c), { count: 2 });
    const before = snapshot();
    const r = chargeCard(seller, rules, { challengeId: a.challengeId, cardId: c.cardId, count: 2, signature: a.signature, now: T0 + 1 });
    expect(r.cardId).toBe(c.cardId);
    expect(r.serials).toHaveLength(2);
    const bundle = JSON.parse(fromUtf8(openToCard(fromBase64(c.data.kxSecret), CODE_BUNDLE_CONTEXT, fromBase64(r.bundle))));
    expect(bundle.codes.map((x: { serial: string }) => x.serial)).toEqual(r.serials);
    expect(seller.db.prepare('SELECT amount_cents, currency, reference, quantity FROM payments WHERE id = ?').get(r.paymentId)).toEqual({
      amount_cents: 2 * rules.codePriceCents,
      currency: rules.currency,
      reference: 'online charge',
      quantity: 2,
    });
    expect(snapshot()).toEqual({ ...before, codes: before.codes + 2, payments: before.payments + 1 });
    expect(usedAt(a.challengeId)).toBe(T0 + 1);
    // The same answer again: a replay.
    expect(outcome(() => chargeCard(seller, rules, { challengeId: a.challengeId, cardId: c.cardId, count: 2, signature: a.signature, now: T0 + 2 }))).toBe(REFUSED);
  });

  it('refuses an unknown challenge, another subject, another purpose, a wrong key, other parameters, a garbled signature', () => {
    const c = card({ maxCodes: 10 });
    const other = card();
    const before = snapshot();
    const tryCharge = (x: { challengeId: string; signature: string }, cardId = c.cardId, n = 1) =>
      outcome(() => chargeCard(seller, rules, { challengeId: x.challengeId, cardId, count: n, signature: x.signature, now: T0 }));
    const good = answered('charge', c.cardId, keyOf(c), { count: 1 });
    expect(tryCharge({ ...good, challengeId: 'chl_unknown' })).toBe(REFUSED);
    // Issued for the other card, signed by c: the subject does not match.
    const forOther = answered('charge', other.cardId, keyOf(c), { count: 1 });
    expect(tryCharge(forOther)).toBe(REFUSED);
    const forPair = answered('pair', c.cardId, keyOf(c), { count: 1 });
    expect(tryCharge(forPair)).toBe(REFUSED);
    expect(tryCharge(answered('charge', c.cardId, keyOf(other), { count: 1 }))).toBe(REFUSED);
    expect(tryCharge(good, c.cardId, 2)).toBe(REFUSED);
    // Rightly signed for what it claims, but the challenge was issued for another
    // subject or purpose: only the stored challenge can tell.
    const issuedForOther = issueChallenge(seller, 'charge', other.cardId, T0);
    const issuedForPair = issueChallenge(seller, 'pair', c.cardId, T0);
    for (const ch of [issuedForOther, issuedForPair]) {
      const msg = challengeMessage({ purpose: 'charge', subjectId: c.cardId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: { count: 1 } });
      expect(tryCharge({ challengeId: ch.challengeId, signature: toBase64(sign(keyOf(c), msg)) })).toBe(REFUSED);
    }
    expect(tryCharge({ ...good, signature: '%%%' })).toBe(REFUSED);
    expect(tryCharge({ ...good, signature: '' })).toBe(REFUSED);
    expect(snapshot()).toEqual(before);
    expect(usedAt(good.challengeId)).toBeNull();
    // An unknown card is refused the same way as a wrong signature.
    const ghost = answered('charge', 'card_ghost', keyOf(c), { count: 1 });
    expect(tryCharge(ghost, 'card_ghost')).toBe(REFUSED);
    expect(tryCharge(good)).toBe('ok');
  });

  it('a challenge answered after its expiry is EXPIRED; at the last millisecond it still holds', () => {
    const c = card({ maxCodes: 10 });
    const late = answered('charge', c.cardId, keyOf(c), { count: 1 });
    expect(outcome(() => chargeCard(seller, rules, { ...late, cardId: c.cardId, count: 1, now: late.ch.expiresAt + 1 }))).toBe(
      'EXPIRED: the challenge has expired: ask for a new one',
    );
    expect(usedAt(late.challengeId)).toBeNull();
    expect(outcome(() => chargeCard(seller, rules, { ...late, cardId: c.cardId, count: 1, now: late.ch.expiresAt }))).toBe('ok');
  });

  it('a request refused after the challenge leaves the challenge unused and nothing recorded', () => {
    const c = card({ maxCodes: 1 });
    const a = answered('charge', c.cardId, keyOf(c), { count: 5 });
    const before = snapshot();
    expect(outcome(() => chargeCard(seller, rules, { ...a, cardId: c.cardId, count: 5, now: T0 }))).toMatch(/^REFUSED: /);
    expect(usedAt(a.challengeId)).toBeNull();
    expect(snapshot()).toEqual(before);
  });

  it('a revoked card is REVOKED and an expired one EXPIRED, before any challenge is spent', () => {
    const r = card();
    const a = answered('charge', r.cardId, keyOf(r), { count: 1 });
    revokeCard(seller, r.cardId, T0);
    expect(outcome(() => chargeCard(seller, rules, { ...a, cardId: r.cardId, count: 1, now: T0 }))).toBe(`REVOKED: card ${r.cardId} is revoked`);
    expect(usedAt(a.challengeId)).toBeNull();
    const e = card({ validDays: 1 });
    const expires = seller.db.prepare('SELECT expires_at FROM cards WHERE id = ?').pluck().get(e.cardId) as number;
    const b = answered('charge', e.cardId, keyOf(e), { count: 1 }, expires - 1);
    expect(outcome(() => chargeCard(seller, rules, { ...b, cardId: e.cardId, count: 1, now: expires + 1 }))).toMatch(/^(EXPIRED: card .* has expired)$/);
    expect(outcome(() => chargeCard(seller, rules, { ...b, cardId: e.cardId, count: 1, now: expires }))).toBe('ok');
    // Pairing and statements have no other expiry check than the card's.
    const st = answered('statement', e.cardId, keyOf(e), {}, expires - 1);
    expect(outcome(() => cardStatement(seller, rules, { ...st, cardId: e.cardId, now: expires + 1 }))).toBe(`EXPIRED: card ${e.cardId} has expired`);
  });
});

describe('pairCards', () => {
  it('both cards get the same new key, each sealed to its own key', () => {
    const a = card();
    const b = card();
    const x = answered('pair', a.cardId, keyOf(a), { withCardId: b.cardId });
    const r = pairCards(seller, { ...x, cardId: a.cardId, withCardId: b.cardId, now: T0 + 3 });
    expect([r.cardA, r.cardB]).toEqual([a.cardId, b.cardId]);
    expect(r.pairId).toMatch(/^pair_/);
    const forA = JSON.parse(fromUtf8(openToCard(fromBase64(a.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forA))));
    const forB = JSON.parse(fromUtf8(openToCard(fromBase64(b.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forB))));
    expect(forA).toEqual(forB);
    expect(forA).toMatchObject({ sealcode: 'pair-key', v: 1, pairId: r.pairId, cardA: a.cardId, cardB: b.cardId });
    expect(fromBase64(forA.key)).toHaveLength(32);
    expect(outcome(() => openToCard(fromBase64(b.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forA)))).toMatch(/^REFUSED/);
    expect(seller.db.prepare('SELECT card_a, card_b, created_at FROM pairs WHERE id = ?').get(r.pairId)).toEqual({ card_a: a.cardId, card_b: b.cardId, created_at: T0 + 3 });
  });

  it('refuses an unknown or revoked partner, and itself, recording nothing', () => {
    const a = card();
    const b = card();
    const before = snapshot();
    const pair = (withCardId: string) => {
      const x = answered('pair', a.cardId, keyOf(a), { withCardId });
      return outcome(() => pairCards(seller, { ...x, cardId: a.cardId, withCardId, now: T0 }));
    };
    expect(pair('card_nobody')).toBe('USAGE: unknown card card_nobody');
    expect(pair(a.cardId)).toBe('USAGE: a card cannot pair with itself');
    revokeCard(seller, b.cardId, T0);
    expect(pair(b.cardId)).toBe(`REVOKED: card ${b.cardId} is revoked`);
    expect(snapshot()).toEqual(before);
    // An unknown asking card: refused like a bad signature.
    const x = answered('pair', 'card_ghost', keyOf(a), { withCardId: a.cardId });
    expect(outcome(() => pairCards(seller, { ...x, cardId: 'card_ghost', withCardId: a.cardId, now: T0 }))).toBe(REFUSED);
  });
});

describe('cardStatement', () => {
  it('the pay-back entries and their totals, sealed to the card', () => {
    const c = card();
    const pid = c.data.purchaser.id;
    const ins = seller.db.prepare('INSERT INTO paybacks (id, purchaser_id, rule, source, amount_cents, points, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    ins.run('pb_1', pid, 'manual', 's1', 250, 3, T0);
    ins.run('pb_2', pid, 'manual', 's2', 100, 4, T0 + 1);
    const x = answered('statement', c.cardId, keyOf(c), {});
    const r = cardStatement(seller, rules, { ...x, cardId: c.cardId, now: T0 + 5 });
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
    expect(outcome(() => cardStatement(seller, rules, { ...x, cardId: c.cardId, now: T0 + 6 }))).toBe(REFUSED);
  });
});

describe('grantCopyRight', () => {
  function build(c: IssuedCard, i = 0) {
    return redeemOffline(seller, { code: c.data.codes[i]!.code, email: 'd@example.test', now: T0 });
  }
  const ask = (g: ReturnType<typeof build>, copies: number, now = T0, validDays?: number) => {
    const key = profileSecrets(g.profile).buildSecret;
    const x = answered('copy-right', g.buildId, key, { copies }, now);
    return () => grantCopyRight(seller, { ...x, buildId: g.buildId, copies, now, validDays });
  };

  it('a copy code of the parent build: its card and group, K redemptions, the parent’s build validity, 30 days to redeem', () => {
    const c = card();
    const g = build(c);
    const r = ask(g, 2, T0 + 7)();
    expect(r).toMatchObject({ copies: 2, parentBuildId: g.buildId, expires: T0 + 7 + 30 * DAY_MS });
    expect(parseCode(r.code).serial).toBe(r.serial);
    const row = seller.db.prepare('SELECT * FROM codes WHERE serial = ?').get(r.serial) as Record<string, unknown>;
    const parent = seller.db.prepare('SELECT * FROM codes WHERE serial = ?').get(g.serial) as Record<string, unknown>;
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
    expect(ask(g, 1, T0, 2)().expires).toBe(T0 + 2 * DAY_MS);
    // The copy code works: its build names the parent.
    expect(grantRedemption(seller, { code: r.code, email: 'e@example.test', now: T0 + 8 }).profile.buildCert).toBeTruthy();
  });

  it('counts copies already given across all builds of the code: 3 in all by default', () => {
    const g = build(card());
    expect(outcome(ask(g, 4))).toBe('REFUSED: this code allows 3 copies in all; 3 remain');
    expect(outcome(ask(g, 2))).toBe('ok');
    expect(outcome(ask(g, 2))).toBe('REFUSED: this code allows 3 copies in all; 1 remain');
    expect(outcome(ask(g, 1))).toBe('ok');
    expect(outcome(ask(g, 1))).toBe('REFUSED: this code allows 3 copies in all; 0 remain');
    // Rights lowered below what was given: "0 remain", never a negative number.
    seller.db.prepare('UPDATE codes SET copy_rights = 1 WHERE serial = ?').run(g.serial);
    expect(outcome(ask(g, 1))).toBe('REFUSED: this code allows 1 copies in all; 0 remain');
  });

  it('refuses an unknown, revoked, expired or copied build, and a build of a revoked code, recording nothing', () => {
    const c = card({ codes: 3 });
    const before = () => count('codes');
    const n = before();
    const x = answered('copy-right', 'build_ghost', new Uint8Array(32), { copies: 1 });
    expect(outcome(() => grantCopyRight(seller, { ...x, buildId: 'build_ghost', copies: 1, now: T0 }))).toBe(REFUSED);
    const revoked = build(c, 0);
    const askRevoked = ask(revoked, 1);
    revokeBuild(seller, revoked.buildId, T0);
    expect(outcome(askRevoked)).toBe('REVOKED: this build has been revoked');
    const old = build(c, 1);
    const expiry = seller.db.prepare('SELECT build_expires_at FROM redemptions WHERE build_id = ?').pluck().get(old.buildId) as number;
    expect(outcome(ask(old, 1, expiry + 1))).toBe('EXPIRED: this build has expired');
    expect(outcome(ask(old, 1, expiry))).toBe('ok');
    const codeRevoked = build(c, 2);
    revokeCode(seller, codeRevoked.serial, T0);
    expect(outcome(ask(codeRevoked, 1))).toBe("REVOKED: this build's code has been revoked");
    expect(before()).toBe(n + 1);
    // A copy's build cannot hand out rights of its own.
    const parent = build(card());
    const copy = ask(parent, 1)();
    const child = redeemOffline(seller, { code: copy.code, email: 'e@example.test', now: T0 });
    expect(outcome(ask(child, 1))).toBe('REFUSED: a copy cannot hand out further copy rights');
  });

  it('a card key cannot answer for a build', () => {
    const c = card();
    const g = build(c);
    const x = answered('copy-right', g.buildId, keyOf(c), { copies: 1 });
    expect(outcome(() => grantCopyRight(seller, { ...x, buildId: g.buildId, copies: 1, now: T0 }))).toBe(REFUSED);
  });
});
