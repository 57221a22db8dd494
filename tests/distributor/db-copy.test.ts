// `sealcode db copy` as a real process: a SQLite seller database with every kind of row
// moved into an empty PostgreSQL database, checked table by table, and then served from
// there with the data folder's master key; a non-empty target is refused untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { isSealError, type CardData } from '../../card/index.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard, sellCodes } from '../../distributor/seller/cards.js';
import { grantRedemption, redeemOffline } from '../../distributor/seller/redemption.js';
import { revokeCode, statusList } from '../../distributor/seller/revoke.js';
import { issueChallenge } from '../../distributor/seller/online.js';
import { startConfirmation } from '../../distributor/seller/confirm.js';
import { recordPublicUrl } from '../../distributor/seller/settings.js';
import { createApp } from '../../distributor/server/app.js';
import { openSqlite } from '../../distributor/db/sqlite.js';
import { openPostgres } from '../../distributor/db/postgres.js';
import { TABLES, tableDigests } from '../../distributor/db/copy.js';
import { sharedPostgres } from '../support/databases.js';
import { defaultTemplatePath, prepareTemplate } from '../../distributor/server/xpi.js';
import { PASSWORD, ROOT, builtTemplate, consoleAgent, ensureBuilt } from './helpers.js';

const run = promisify(execFile);
const bin = join(ROOT, 'bin', 'sealcode.js');
const dir = mkdtempSync(join(tmpdir(), 'sealcode-dbcopy-'));
const SECRET = 'copy-pass-must-not-leak';
let alice: CardData;
let usedSerial: string;
let revokedSerial: string;

const cli = (...args: string[]) =>
  run(process.execPath, [bin, ...args], { env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn' } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
/** The URL with a password the trust-authenticated test server ignores, to catch leaks. */
const withPassword = (url: string) => url.replace('postgres://sealcode@', `postgres://sealcode:${SECRET}@`);

beforeAll(async () => {
  ensureBuilt();
  await initSeller(dir);
  const seller = await openSeller(dir);
  alice = (await issueCard(seller, { name: 'Alice', email: 'alice@example.test', codes: 4, payment: { amountCents: 1500 } })).data;
  await issueCard(seller, { name: 'Bob', email: 'bob@example.test', codes: 1, group: alice.groupId });
  await sellCodes(seller, { cardId: alice.cardId, count: 2 });
  const done = await redeemOffline(seller, { code: alice.codes[0]!.code, email: 'dana@example.test' });
  usedSerial = done.serial;
  const open = await grantRedemption(seller, { code: alice.codes[1]!.code, email: 'eve@example.test' });
  await startConfirmation(seller, open.redemptionId);
  revokedSerial = alice.codes[2]!.serial;
  await revokeCode(seller, revokedSerial);
  await issueChallenge(seller, 'charge', alice.cardId);
  await recordPublicUrl(seller, 'http://codes.example.test');
  // A console session and the cookie key, as a running server leaves them.
  const { app } = await createApp(seller, { consolePassword: PASSWORD, logger: false, template: prepareTemplate(builtTemplate(), defaultTemplatePath()) });
  await consoleAgent(app);
  await seller.close();
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh PostgreSQL database filled by `db copy`, open, with its digests. */
async function copied() {
  const url = await (await sharedPostgres()).freshDatabase();
  expect((await cli('db', 'copy', '--from-data', dir, '--to', url)).code).toBe(0);
  const db = openPostgres(url);
  return { url, db, before: await tableDigests(db) };
}

describe('sealcode db copy', () => {
  it('copies every row into an empty PostgreSQL database, checks it, and never prints the password', async () => {
    const pg = await sharedPostgres();
    const url = withPassword(await pg.freshDatabase());
    const r = await cli('db', 'copy', '--from-data', dir, '--to', url, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.to).toContain('sealcode:***@');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stderr).toMatch(/codes: \d+\/\d+ rows/);
    expect(out.tables.map((t: { table: string }) => t.table)).toEqual(TABLES.map((t) => t.name));
    // Every table with rows in the source has them: nothing of the fixture is left out.
    for (const t of ['issuer_keys', 'purchasers', 'groups', 'cards', 'codes', 'redemptions', 'payments', 'challenges', 'server_secrets', 'console_sessions', 'email_confirmations', 'settings'])
      expect([t, out.tables.find((x: { table: string }) => x.table === t).rows > 0]).toEqual([t, true]);
    // The same digests, computed here on both sides independently of the command.
    const src = openSqlite(dir);
    const dst = openPostgres(url);
    try {
      expect(await tableDigests(dst)).toEqual(await tableDigests(src));
      expect(out.tables).toEqual(await tableDigests(src));
    } finally {
      await Promise.all([src.close(), dst.close()]);
    }

    // Served from PostgreSQL with the data folder's master key: the same seller.
    const seller = await openSeller(dir, { dbUrl: url });
    try {
      expect((await statusList(seller)).revoked.codes).toEqual([revokedSerial]);
      const g = await redeemOffline(seller, { code: alice.codes[3]!.code, email: 'fay@example.test' });
      expect(g.profile.distributorUrl).toBe('http://codes.example.test');
      await expect(redeemOffline(seller, { code: alice.codes[0]!.code, email: 'x@example.test' })).rejects.toSatisfy((e) => isSealError(e, 'REFUSED'));
      expect(await seller.db.value('SELECT state FROM codes WHERE serial = ?', usedSerial)).toBe('already_used');
      // The console password's sessions and the cookie key came along: the app starts.
      const { app } = await createApp(seller, { consolePassword: PASSWORD, logger: false, template: prepareTemplate(builtTemplate(), defaultTemplatePath()) });
      expect((await request(app).get('/healthz')).body).toMatchObject({ ok: true, db: { kind: 'postgres', schemaVersion: 9 } });
    } finally {
      await seller.close();
    }
  });

  it('refuses a target that already holds seller data, and leaves it as it was', async () => {
    const { url, db, before } = await copied();
    try {
      const again = await cli('db', 'copy', '--from-data', dir, '--to', url);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/target database is not empty \(issuer_keys has 1 rows\)/);
      expect(await tableDigests(db)).toEqual(before);
    } finally {
      await db.close();
    }
  });

  it('refuses what is not a PostgreSQL URL or not a data folder, naming no password', async () => {
    const bad = await cli('db', 'copy', '--from-data', dir, '--to', `mysql://u:${SECRET}@127.0.0.1/x`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be a postgres:// URL');
    expect(bad.stderr).not.toContain(SECRET);
    const none = await cli('db', 'copy', '--from-data', join(dir, 'nowhere'), '--to', 'postgres://127.0.0.1/x');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('sealcode.db is missing');
  });

  it('a digest changes when any row does, so a wrong copy cannot pass the check', async () => {
    const { db, before } = await copied();
    try {
      await db.run('UPDATE codes SET state_changed_at = state_changed_at + 1 WHERE serial = ?', usedSerial);
      const after = await tableDigests(db);
      const changed = after.filter((d, i) => d.sha256 !== before[i]!.sha256).map((d) => d.table);
      expect(changed).toEqual(['codes']);
    } finally {
      await db.close();
    }
  });
});
