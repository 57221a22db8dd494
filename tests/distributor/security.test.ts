// The attacks of issue 9 against the real app and a real SQLite file: each test fails
// when its fix is taken out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { fromBase64, sign, toBase64 } from '../../card/index.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { grantRedemption } from '../../distributor/seller/redemption.js';
import { createApp } from '../../distributor/server/app.js';
import { ensureConsolePassword } from '../../distributor/server/secrets.js';
import { challengeMessage } from '../../distributor/protocol.js';
import { PASSWORD, consoleAgent, count, csrfOf, makeServer, tokenOf, visitor, type TestServer, BACKENDS, makeSeller } from './helpers.js';
import { endAllSessions } from '../../distributor/server/security.js';

let s: TestServer;
let alice: IssuedCard;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({ trustProxy: true }, backend);
    alice = await issueCard(s.seller, { name: 'Alice', email: 'alice@example.test', codes: 4 });
  });
  afterAll(async () => await s.close());

  /** Logs in without an agent; returns the Cookie header a captured browser would send. */
  async function login(app: TestServer['app']): Promise<string> {
    const page = await request(app).get('/console/login').expect(200);
    const first = page.headers['set-cookie']![0]!.split(';')[0]!;
    const r = await request(app).post('/console/login').set('Cookie', first).type('form').send({ password: PASSWORD, _csrf: csrfOf(page.text) }).expect(303);
    const jar = new Map([first.split('=') as [string, string]]);
    for (const c of r.headers['set-cookie'] as unknown as string[]) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      jar.set(k, v);
    }
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  const issueForm = (csrf: string, extra: Record<string, string> = {}) => ({
    name: 'Carol', email: 'carol@example.test', group: 'new', codes: '1', maxCodes: '10', amount: '0', passphrase: 'carol pass', passphrase2: 'carol pass', _csrf: csrf, ...extra,
  });

  describe('console sessions', () => {
    it('a cookie captured before logout no longer opens the console', async () => {
      const captured = await login(s.app);
      expect(captured).toMatch(/sc_session=/);
      const home = await request(s.app).get('/console').set('Cookie', captured).expect(200);
      await request(s.app).post('/console/logout').set('Cookie', captured).type('form').send({ _csrf: csrfOf(home.text) }).expect(303);
      await request(s.app).get('/console').set('Cookie', captured).expect(303).expect('Location', '/console/login');
    });

    it('a session holds across a restart and a second process on the database; a new password, or end-sessions, ends it', async () => {
      const t = await makeSeller(backend);
      const { seller } = t;
      try {
        const first = (await createApp(seller, { consolePassword: PASSWORD, logger: false })).app;
        const jar = await login(first);
        await request(first).get('/console').set('Cookie', jar).expect(200);
        // Another process starting on the same database (or this one restarting) logs nobody out.
        const same = (await createApp(seller, { consolePassword: PASSWORD, logger: false })).app;
        await request(same).get('/console').set('Cookie', jar).expect(200);
        await request(first).get('/console').set('Cookie', jar).expect(200);
        // A session made under one password does not open the console under another.
        const changed = (await createApp(seller, { consolePassword: 'another password entirely', logger: false })).app;
        await request(changed).get('/console').set('Cookie', jar).expect(303);
        await request(same).get('/console').set('Cookie', jar).expect(200);
        // `sealcode admin end-sessions`: every process's browsers are out.
        expect(await endAllSessions(seller.db)).toBe(1);
        await request(same).get('/console').set('Cookie', jar).expect(303);
        await request(first).get('/console').set('Cookie', jar).expect(303);
      } finally {
        await t.close();
      }
    });

    it('sessions end after 30 idle minutes and 8 hours in all', async () => {
      const c = await consoleAgent(s.app);
      await c.agent.get('/console').expect(200);
      const now = Date.now();
      (await s.seller.db.run('UPDATE console_sessions SET last_seen_at = ?', now - 31 * 60_000));
      await c.agent.get('/console').expect(303);
      const d = await consoleAgent(s.app);
      (await s.seller.db.run('UPDATE console_sessions SET expires_at = ?', now - 1));
      await d.agent.get('/console').expect(303);
    });

    it('the database holds a hash of the session id, not the id', async () => {
      const id = /sc_session=([^;]+)/.exec(await login(s.app))![1]!;
      const all = JSON.stringify((await s.seller.db.all('SELECT * FROM console_sessions')));
      expect(await count(s.seller, 'console_sessions')).toBeGreaterThan(0);
      expect(all).not.toContain(id);
      expect(all).not.toContain(Buffer.from(id, 'base64url').toString('hex'));
    });
  });

  describe('CSRF cookie', () => {
    it('one planted before login is replaced at login: the token the attacker knows stops working', async () => {
      // The attacker reads the token that goes with a cookie value of their choosing...
      const planted = 'P'.repeat(43);
      const known = csrfOf((await request(s.app).get('/console/login').set('Cookie', `sc_csrf=${planted}`).expect(200)).text);
      // ...plants the cookie in the victim's browser, and the victim logs in.
      const page = await request(s.app).get('/console/login').set('Cookie', `sc_csrf=${planted}`).expect(200);
      expect(csrfOf(page.text)).toBe(known);
      const r = await request(s.app).post('/console/login').set('Cookie', `sc_csrf=${planted}`).type('form').send({ password: PASSWORD, _csrf: known }).expect(303);
      const set = r.headers['set-cookie'] as unknown as string[];
      const session = set.find((c) => c.startsWith('sc_session='))!.split(';')[0]!;
      const rotated = set.find((c) => c.startsWith('sc_csrf='))!.split(';')[0]!;
      expect(rotated).not.toBe(`sc_csrf=${planted}`);
      // Had the browser kept (or been given again) the planted cookie, the attacker's token
      // is still refused: a logged-in browser's token is bound to its session...
      const before = await count(s.seller, 'cards');
      await request(s.app).post('/console/cards').set('Cookie', `sc_csrf=${planted}; ${session}`).type('form').send(issueForm(known)).expect(403);
      expect(await count(s.seller, 'cards')).toBe(before);
      // ...and the browser holds the rotated one, whose token differs from the known one.
      const fresh = csrfOf((await request(s.app).get('/console').set('Cookie', `${rotated}; ${session}`).expect(200)).text);
      expect(fresh).not.toBe(known);
      await request(s.app).post('/console/cards').set('Cookie', `${rotated}; ${session}`).type('form').send(issueForm(known)).expect(403);
    });

    it('over https the cookies are __Host- (Secure, Path=/, no Domain) and plain ones are ignored', async () => {
      const t = await makeServer({ publicUrl: 'https://codes.example.test' }, backend);
      try {
        const page = await request(t.app).get('/').expect(200);
        const set = page.headers['set-cookie']![0]!;
        expect(set).toMatch(/^__Host-sc_csrf=[A-Za-z0-9_-]{43};/);
        expect(set).toMatch(/; Secure/);
        expect(set).toMatch(/; Path=\/(;|$)/);
        expect(set).not.toMatch(/Domain=/i);
        const value = /^__Host-sc_csrf=([^;]+)/.exec(set)![1]!;
        const csrf = csrfOf(page.text);
        const code = alice.data.codes[0]!.code;
        // The same value under the unprefixed name (which a sibling site could set) is not read.
        await request(t.app).post('/redeem').set('Cookie', `sc_csrf=${value}`).type('form').send({ code, email: 'x@example.test', _csrf: csrf }).expect(403);
        const login = await request(t.app).get('/console/login').set('Cookie', `__Host-sc_csrf=${value}`).expect(200);
        const r = await request(t.app).post('/console/login').set('Cookie', `__Host-sc_csrf=${value}`).type('form').send({ password: PASSWORD, _csrf: csrfOf(login.text) }).expect(303);
        const cookies = r.headers['set-cookie'] as unknown as string[];
        expect(cookies.find((c) => c.startsWith('__Host-sc_session='))).toMatch(/; Secure/);
        expect(cookies.find((c) => c.startsWith('__Host-sc_csrf='))).toBeDefined();
      } finally {
        t.close();
      }
    });
  });

  describe('requests that used to slip through', () => {
    it('a malformed Origin header is a 403, not a 500 with a stack trace', async () => {
      const v = await visitor(s.app);
      const code = alice.data.codes[1]!;
      for (const origin of ['x', 'http://', '::::']) {
        const r = await v.agent.post('/redeem').set('Origin', origin).type('form').send({ code: code.code, email: 'o@example.test', _csrf: v.csrf });
        expect(r.status, origin).toBe(403);
      }
      const logs = s.logs.join('');
      expect(logs).not.toMatch(/"level":50/);
      expect(logs).not.toMatch(/stack/);
    });

    it('/DOWNLOAD/<token> (another case) is a 404, and no token reaches the log', async () => {
      const t = await makeServer({}, backend);
      try {
        const card = await issueCard(t.seller, { name: 'D', email: 'd@example.test', codes: 1 });
        const token = tokenOf((await (await visitor(t.app)).redeem(card.data.codes[0]!.code, 'dl@example.test').expect(200)).text);
        await request(t.app).get(`/DOWNLOAD/${token}`).expect(404);
        await request(t.app).get(`/Download/${token}`).expect(404);
        await request(t.app).get(`/download/${token}`).set('Range', 'bytes=0-9').expect(206);
        await request(t.app).get(`/nowhere/${token}?t=${token}`).expect(404);
        const logs = t.logs.join('');
        expect(logs).not.toContain(token);
        expect(logs).toContain('"route":"/download/:token"');
        expect(logs).toContain('"route":"[no route]"');
      } finally {
        t.close();
      }
    });

    it('challenges naming a card from one client never lock the card out of its own requests', async () => {
      const attacker = '203.0.113.7';
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++)
        statuses.push((await request(s.app).post('/api/v1/challenge').set('X-Forwarded-For', attacker).send({ purpose: 'charge', subjectId: alice.cardId })).status);
      expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(27);
      expect(statuses.at(-1)).toBe(429); // the attacker is limited...
      // ...and the card, from its own network, still charges.
      const me = '198.51.100.9';
      const ch = (await request(s.app).post('/api/v1/challenge').set('X-Forwarded-For', me).send({ purpose: 'charge', subjectId: alice.cardId }).expect(200)).body;
      const signature = toBase64(sign(fromBase64(alice.data.signSecret), challengeMessage({ purpose: 'charge', subjectId: alice.cardId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: { count: 1 } })));
      const r = await request(s.app).post('/api/v1/charge').set('X-Forwarded-For', me).send({ challengeId: ch.challengeId, subjectId: alice.cardId, signature, count: 1 });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.serials).toHaveLength(1);
    });
  });

  describe('names and emails with control characters', () => {
    const bad = ['\x1b]0;owned\x07x@example.test', 'a\nb@example.test', 'rev\u202Eoc@example.test', 'del\x7f@example.test', 'c1\u0085@example.test', 'iso\u2066@example.test'];

    it('are refused at /redeem, with nothing granted', async () => {
      const code = alice.data.codes[2]!;
      for (const email of bad) {
        const r = await (await visitor(s.app)).redeem(code.code, email);
        expect(r.status, JSON.stringify(email)).toBe(400);
        expect(r.text).toMatch(/control or text-direction characters|whole email address/);
      }
      expect((await s.seller.db.value('SELECT state FROM codes WHERE serial = ?', code.serial))).toBe('unused');
    });

    it('are refused by the console, the seller core and the grant', async () => {
      const c = await consoleAgent(s.app);
      const before = await count(s.seller, 'cards');
      for (const extra of [{ name: 'Mal\x1b[2Jlory' }, { name: 'Mal\u202Elory' }, { email: bad[0]! }] as Record<string, string>[]) {
        const r = await c.agent.post('/console/cards').type('form').send(issueForm(c.csrf, extra));
        expect(r.status, JSON.stringify(extra)).toBe(400);
        expect(r.text).toContain('control or text-direction characters');
      }
      await expect(issueCard(s.seller, { name: 'Bell\x07', email: 'b@example.test' })).rejects.toThrow(/control/);
      await expect(grantRedemption(s.seller, { code: alice.data.codes[3]!.code, email: bad[2]! })).rejects.toThrow(/control/);
      expect(await count(s.seller, 'cards')).toBe(before);
    });
  });

  describe('the data folder', () => {
    it('is 0700 and every file in it 0600, also when the folder existed 0755', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sealcode-perm-'));
      try {
        chmodSync(dir, 0o755);
        await initSeller(dir);
        ensureConsolePassword(dir);
        const seller = await openSeller(dir);
        await issueCard(seller, { name: 'P', email: 'p@example.test', codes: 1 }); // writes the WAL
        const names = readdirSync(dir);
        expect(names).toEqual(expect.arrayContaining(['sealcode.db', 'sealcode.db-wal', 'sealcode.db-shm', 'master.key', 'console-password', 'issuer.pub']));
        expect(statSync(dir).mode & 0o777).toBe(0o700);
        for (const n of names) expect([n, statSync(join(dir, n)).mode & 0o777]).toEqual([n, 0o600]);
        await seller.close();
        // A database file some other tool left 0644 is tightened when opened.
        chmodSync(join(dir, 'sealcode.db'), 0o644);
        writeFileSync(join(dir, 'junk'), '');
        (await openSeller(dir)).close();
        expect(statSync(join(dir, 'sealcode.db')).mode & 0o777).toBe(0o600);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
