// The seller's database core on a real SQLite file.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromBase64, fromUtf8, isSealError, openToCard, toBase64 } from '../../card/index.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard, sellCodes, CODE_BUNDLE_CONTEXT } from '../../distributor/seller/cards.js';
import { completeRedemption, grantRedemption, redeemOffline, resumeRedemption, sweepExpiredGrants } from '../../distributor/seller/redemption.js';

const dir = mkdtempSync(join(tmpdir(), 'sealcode-seller-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const codeOf = (e: unknown) => (isSealError(e) ? e.code : e);
const state = (s: ReturnType<typeof openSeller>, serial: string) =>
  s.db.prepare('SELECT state FROM codes WHERE serial = ?').pluck().get(serial);

describe('seller core', () => {
  it('init is idempotent and keeps secrets out of the database in the clear', () => {
    const a = initSeller(dir);
    const b = initSeller(dir);
    expect(b.issuerPublicKey).toBe(a.issuerPublicKey);
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
    const seller = openSeller(dir);
    const secret = seller.issuerSecret();
    const dbBytes = readFileSync(join(dir, 'sealcode.db'));
    expect(dbBytes.includes(Buffer.from(secret))).toBe(false);
    seller.close();
  });

  it('issues a card, redeems a code exactly once, and refuses bad codes alike', () => {
    const seller = openSeller(dir);
    const card = issueCard(seller, { name: 'Alice Example', email: 'alice@example.test', codes: 3 });
    expect(card.data.codes).toHaveLength(3);
    const code = card.data.codes[0]!;
    const g = redeemOffline(seller, { code: code.code.toLowerCase(), email: 'dana@example.test' });
    expect(g.profile.buildId).toMatch(/^build_/);
    expect(state(seller, code.serial)).toBe('already_used');
    expect(codeOf(catchErr(() => redeemOffline(seller, { code: code.code, email: 'x@example.test' })))).toBe('REFUSED');
    // Mistyped (check characters) and unknown-but-well-formed codes fail the same way.
    const typo = code.code.slice(0, -1) + (code.code.endsWith('0') ? '1' : '0');
    expect(codeOf(catchErr(() => redeemOffline(seller, { code: typo, email: 'x@example.test' })))).toBe('BAD_CODE');
    const other = card.data.codes[1]!;
    const wrongSecret = other.code.replace(/.$/, '');
    expect(codeOf(catchErr(() => redeemOffline(seller, { code: wrongSecret, email: 'x@example.test' })))).toBe('BAD_CODE');
    expect(state(seller, other.serial)).toBe('unused');
    seller.close();
  });

  it('a granted download resumes within its window, then the code is used up', () => {
    const seller = openSeller(dir);
    const card = issueCard(seller, { name: 'Bob', email: 'bob@example.test', codes: 2 });
    const t0 = Date.now();
    const g = grantRedemption(seller, { code: card.data.codes[0]!.code, email: 'e@example.test', now: t0, resumeWindowMs: 1000 });
    expect(state(seller, g.serial)).toBe('in_use');
    expect(resumeRedemption(seller, g.token, t0 + 500).profile.buildId).toBe(g.buildId);
    expect(codeOf(catchErr(() => resumeRedemption(seller, 'not-a-token', t0)))).toBe('REFUSED');
    completeRedemption(seller, g.redemptionId, t0 + 600);
    expect(state(seller, g.serial)).toBe('already_used');
    expect(codeOf(catchErr(() => resumeRedemption(seller, g.token, t0 + 700)))).toBe('REFUSED');
    // An abandoned grant: the window closes and the code is used up, secrets wiped.
    const g2 = grantRedemption(seller, { code: card.data.codes[1]!.code, email: 'e@example.test', now: t0, resumeWindowMs: 1000 });
    expect(sweepExpiredGrants(seller, t0 + 5000)).toBe(1);
    expect(state(seller, g2.serial)).toBe('already_used');
    expect(seller.db.prepare('SELECT sealed_profile FROM redemptions WHERE id = ?').pluck().get(g2.redemptionId)).toBeNull();
    seller.close();
  });

  it('sells codes sealed to the card, within its limit, and records the payment', () => {
    const seller = openSeller(dir);
    const card = issueCard(seller, { name: 'Carol', email: 'carol@example.test', codes: 2, maxCodes: 5 });
    const sold = sellCodes(seller, { cardId: card.cardId, count: 3, payment: { amountCents: 900 } });
    const bundle = JSON.parse(fromUtf8(openToCard(fromBase64(card.data.kxSecret), CODE_BUNDLE_CONTEXT, sold.bundle)));
    expect(bundle.codes.map((c: { serial: string }) => c.serial)).toEqual(sold.serials);
    expect(codeOf(catchErr(() => sellCodes(seller, { cardId: card.cardId, count: 1 })))).toBe('REFUSED');
    const other = issueCard(seller, { name: 'Eve', email: 'eve@example.test', codes: 0 });
    expect(codeOf(catchErr(() => openToCard(fromBase64(other.data.kxSecret), CODE_BUNDLE_CONTEXT, sold.bundle)))).toBe('REFUSED');
    const pays = seller.db.prepare('SELECT kind, quantity, amount_cents FROM payments WHERE card_id = ? ORDER BY created_at').all(card.cardId);
    expect(pays).toEqual([
      { kind: 'card', quantity: 1, amount_cents: 0 },
      { kind: 'codes', quantity: 3, amount_cents: 900 },
    ]);
    seller.close();
  });

  it('a database without its master key does not open its secrets', () => {
    process.env.SEALCODE_MASTER_KEY = toBase64(new Uint8Array(32).fill(7));
    try {
      const seller = openSeller(dir);
      expect(codeOf(catchErr(() => seller.issuerSecret()))).toBe('BAD_PASSPHRASE');
      seller.close();
    } finally {
      delete process.env.SEALCODE_MASTER_KEY;
    }
    expect(new Database(join(dir, 'sealcode.db')).pragma('journal_mode', { simple: true })).toBe('wal');
  });
});

function catchErr(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
