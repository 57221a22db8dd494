// The seller's database core, on a real SQLite file and on a real PostgreSQL database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromBase64, fromUtf8, isSealError, openToCard, toBase64 } from '../../card/index.js';
import { initSeller, openSeller, type Seller } from '../../distributor/seller/seller.js';
import { BACKENDS, freshDb } from '../support/databases.js';
import { LATEST_VERSION, MIGRATIONS } from '../../distributor/db/migrations.js';
import { openStore } from '../../distributor/db/open.js';
import { issueCard, sellCodes, CODE_BUNDLE_CONTEXT } from '../../distributor/seller/cards.js';
import { completeRedemption, grantRedemption, redeemOffline, resumeRedemption, sweepExpiredGrants } from '../../distributor/seller/redemption.js';


const codeOf = (e: unknown) => (isSealError(e) ? e.code : e);
const state = (s: Seller, serial: string) => s.db.value<string>('SELECT state FROM codes WHERE serial = ?', serial);

describe.each(BACKENDS)('on %s', (backend) => {
  let dir: string;
  let dbUrl: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sealcode-seller-'));
    dbUrl = await freshDb(backend);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('seller core', () => {
    it('init is idempotent and keeps secrets out of the database in the clear', async () => {
      const a = await initSeller(dir, { dbUrl });
      const b = await initSeller(dir, { dbUrl });
      expect(b.issuerPublicKey).toBe(a.issuerPublicKey);
      expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600);
      const seller = await openSeller(dir, { dbUrl });
      const secret = Buffer.from(seller.issuerSecret());
      if (backend === 'sqlite') expect(readFileSync(join(dir, 'sealcode.db')).includes(secret)).toBe(false);
      for (const t of ['issuer_keys', 'groups', 'server_secrets'])
        for (const row of await seller.db.all(`SELECT * FROM ${t}`))
          for (const v of Object.values(row)) if (Buffer.isBuffer(v)) expect(v.includes(secret)).toBe(false);
      await seller.close();
    });

    it('issues a card, redeems a code exactly once, and refuses bad codes alike', async () => {
      const seller = await openSeller(dir, { dbUrl });
      const card = await issueCard(seller, { name: 'Alice Example', email: 'alice@example.test', codes: 3 });
      expect(card.data.codes).toHaveLength(3);
      const code = card.data.codes[0]!;
      const g = await redeemOffline(seller, { code: code.code.toLowerCase(), email: 'dana@example.test' });
      expect(g.profile.buildId).toMatch(/^build_/);
      expect(await state(seller, code.serial)).toBe('already_used');
      expect(codeOf(await catchErr(() => redeemOffline(seller, { code: code.code, email: 'x@example.test' })))).toBe('REFUSED');
      // Mistyped (check characters) and unknown-but-well-formed codes fail the same way.
      const typo = code.code.slice(0, -1) + (code.code.endsWith('0') ? '1' : '0');
      expect(codeOf(await catchErr(() => redeemOffline(seller, { code: typo, email: 'x@example.test' })))).toBe('BAD_CODE');
      const other = card.data.codes[1]!;
      const wrongSecret = other.code.replace(/.$/, '');
      expect(codeOf(await catchErr(() => redeemOffline(seller, { code: wrongSecret, email: 'x@example.test' })))).toBe('BAD_CODE');
      expect(await state(seller, other.serial)).toBe('unused');
      await seller.close();
    });

    it('a granted download resumes within its window, then the code is used up', async () => {
      const seller = await openSeller(dir, { dbUrl });
      const card = await issueCard(seller, { name: 'Bob', email: 'bob@example.test', codes: 2 });
      const t0 = Date.now();
      const g = await grantRedemption(seller, { code: card.data.codes[0]!.code, email: 'e@example.test', now: t0, resumeWindowMs: 1000 });
      expect(await state(seller, g.serial)).toBe('in_use');
      expect((await resumeRedemption(seller, g.token, t0 + 500)).profile.buildId).toBe(g.buildId);
      expect(codeOf(await catchErr(() => resumeRedemption(seller, 'not-a-token', t0)))).toBe('REFUSED');
      await completeRedemption(seller, g.redemptionId, t0 + 600);
      expect(await state(seller, g.serial)).toBe('already_used');
      expect(codeOf(await catchErr(() => resumeRedemption(seller, g.token, t0 + 700)))).toBe('REFUSED');
      // An abandoned grant: the window closes and the code is used up, secrets wiped.
      const g2 = await grantRedemption(seller, { code: card.data.codes[1]!.code, email: 'e@example.test', now: t0, resumeWindowMs: 1000 });
      expect(await sweepExpiredGrants(seller, t0 + 5000)).toBe(1);
      expect(await state(seller, g2.serial)).toBe('already_used');
      expect((await seller.db.value('SELECT sealed_profile FROM redemptions WHERE id = ?', g2.redemptionId))).toBeNull();
      await seller.close();
    });

    it('sells codes sealed to the card, within its limit, and records the payment', async () => {
      const seller = await openSeller(dir, { dbUrl });
      const card = await issueCard(seller, { name: 'Carol', email: 'carol@example.test', codes: 2, maxCodes: 5 });
      const sold = await sellCodes(seller, { cardId: card.cardId, count: 3, payment: { amountCents: 900 } });
      const bundle = JSON.parse(fromUtf8(openToCard(fromBase64(card.data.kxSecret), CODE_BUNDLE_CONTEXT, sold.bundle)));
      expect(bundle.codes.map((c: { serial: string }) => c.serial)).toEqual(sold.serials);
      expect(codeOf(await catchErr(() => sellCodes(seller, { cardId: card.cardId, count: 1 })))).toBe('REFUSED');
      const other = await issueCard(seller, { name: 'Eve', email: 'eve@example.test', codes: 0 });
      expect(codeOf(await catchErr(() => openToCard(fromBase64(other.data.kxSecret), CODE_BUNDLE_CONTEXT, sold.bundle)))).toBe('REFUSED');
      const pays = (await seller.db.all('SELECT kind, quantity, amount_cents FROM payments WHERE card_id = ? ORDER BY created_at', card.cardId));
      expect(pays).toEqual([
        { kind: 'card', quantity: 1, amount_cents: 0 },
        { kind: 'codes', quantity: 3, amount_cents: 900 },
      ]);
      await seller.close();
    });

    it('migrations: every version once, and a schema newer than this build is refused before anything is read', async () => {
      const seller = await openSeller(dir, { dbUrl });
      try {
        expect(await seller.db.column('SELECT version FROM schema_migrations ORDER BY version')).toEqual(MIGRATIONS.map((m) => m.version));
        expect(await seller.db.schemaVersion()).toBe(LATEST_VERSION);
        await seller.db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', LATEST_VERSION + 1, 'from the future', Date.now());
      } finally {
        await seller.close();
      }
      const newer = `has schema version ${LATEST_VERSION + 1}, newer than this sealcode knows (${LATEST_VERSION}): upgrade sealcode here first`;
      await expect(openSeller(dir, { dbUrl })).rejects.toThrow(newer);
      await expect(initSeller(dir, { dbUrl })).rejects.toThrow(newer);
      const again = await openStore(dir, dbUrl);
      try {
        await again.run('DELETE FROM schema_migrations WHERE version = ?', LATEST_VERSION + 1);
      } finally {
        await again.close();
      }
      await (await openSeller(dir, { dbUrl })).close();
    });

    it('a database without its master key does not open its secrets', async () => {
      process.env.SEALCODE_MASTER_KEY = toBase64(new Uint8Array(32).fill(7));
      try {
        const seller = await openSeller(dir, { dbUrl });
        expect(codeOf(await catchErr(() => seller.issuerSecret()))).toBe('BAD_PASSPHRASE');
        await seller.close();
      } finally {
        delete process.env.SEALCODE_MASTER_KEY;
      }
      if (backend === 'sqlite') expect(new Database(join(dir, 'sealcode.db')).pragma('journal_mode', { simple: true })).toBe('wal');
    });
  });
});

async function catchErr(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
