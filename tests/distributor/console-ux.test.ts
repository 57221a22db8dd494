// The console's one-time view of a new card and its flash messages, over HTTP: the
// view is reached only through the seller's own cookie, holds no code in the clear in
// the database, ends at Done, at logout or when it expires; a flash message cannot
// be planted or altered by whoever can set a cookie.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { openCardFile } from '../../card/index.js';
import { getIssuedView, putIssuedView, ISSUED_VIEW_MS } from '../../distributor/server/issued-view.js';
import { FLASH_COOKIE } from '../../distributor/server/flash.js';
import { binaryParser, consoleAgent, makeServer, type TestServer, BACKENDS } from './helpers.js';

let s: TestServer;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({}, backend);
  });
  afterAll(async () => await s.close());

  const FORM = { name: 'Olga One-Time', email: 'olga@example.test', group: 'new', codes: '3', maxCodes: '10', amount: '0', passphrase: 'olga passphrase', passphrase2: 'olga passphrase' };
  const views = async (): Promise<number> => (await s.seller.db.value<number>('SELECT COUNT(*) FROM issued_views'))!;

  async function issue() {
    const c = await consoleAgent(s.app);
    const r = await c.agent.post('/console/cards').type('form').send({ ...FORM, _csrf: c.csrf }).expect(303).expect('Location', '/console/issued');
    const cookie = r.headers['set-cookie'] as unknown as string[];
    expect(cookie.find((h) => h.startsWith('sc_issued='))).toMatch(/Path=\/console; .*HttpOnly; SameSite=Strict/);
    const file = await c.agent.get('/console/issued/card').buffer(true).parse(binaryParser).expect(200);
    const card = await openCardFile(Buffer.from(file.body as Buffer).toString('utf8'), FORM.passphrase);
    return { ...c, card };
  }

  describe('the one-time view of a new card', () => {
    it('shows the codes to the browser that issued the card only, and keeps none in the clear', async () => {
      const { agent, card } = await issue();
      const page = await agent.get('/console/issued').expect(200);
      for (const c of card.codes) expect(page.text).toContain(c.code);
      // In the database: sealed under the master key, looked up by a hash.
      const raw = Buffer.concat((await s.seller.db.all<Record<string, Uint8Array>>('SELECT id_hash, sealed FROM issued_views')).flatMap((r) => Object.values(r)).map((b) => Buffer.from(b)));
      for (const c of card.codes) {
        expect(raw.includes(Buffer.from(c.code))).toBe(false);
        expect(raw.includes(Buffer.from(c.serial))).toBe(false);
      }
      // Another logged-in browser has no view; a made-up id finds nothing.
      const other = await consoleAgent(s.app);
      expect((await other.agent.get('/console/issued').expect(410)).text).not.toContain(card.codes[0]!.code);
      await other.agent.get('/console/issued').set('Cookie', `sc_issued=${'A'.repeat(43)}`).expect(410);
      await other.agent.get('/console/issued/card').expect(410);
      // Not logged in: the console's login page, whatever the cookie.
      await request(s.app).get('/console/issued').expect(303).expect('Location', '/console/login');
      // The request log never holds a code.
      for (const c of card.codes) expect(s.logs.join('')).not.toContain(c.code);
    });

    it('ends at Done, at logout, and when it expires', async () => {
      const a = await issue();
      const before = await views();
      await a.agent.post('/console/issued/done').type('form').send({ _csrf: a.csrf }).expect(303).expect('Location', '/console');
      expect(await views()).toBe(before - 1);
      await a.agent.get('/console/issued').expect(410);
      await a.agent.get('/console/issued/card').expect(410);

      const b = await issue();
      const n = await views();
      await b.agent.post('/console/logout').type('form').send({ _csrf: b.csrf }).expect(303);
      expect(await views()).toBe(n - 1);

      const now = Date.now();
      const v = await putIssuedView(s.seller, { fileName: 'x.card', cardFile: '{}', sheet: { cardId: 'card_X', purchaser: { name: 'X', email: 'x@example.test' }, url: 'http://x/', codes: [] } }, now);
      expect(await getIssuedView(s.seller, v.id, now + ISSUED_VIEW_MS - 1)).toBeDefined();
      expect(await getIssuedView(s.seller, v.id, now + ISSUED_VIEW_MS)).toBeUndefined();
      expect((await s.seller.db.value('SELECT COUNT(*) FROM issued_views WHERE card_id = ?', 'card_X'))).toBe(0);
    });

    it('a flash message shows once, and a planted or altered one shows nothing', async () => {
      const c = await consoleAgent(s.app);
      const card = (await s.seller.db.value('SELECT id FROM cards LIMIT 1')) as string;
      const r = await c.agent.post(`/console/cards/${card}/revoke`).type('form').send({ _csrf: c.csrf }).expect(303);
      const flash = (r.headers['set-cookie'] as unknown as string[]).find((h) => h.startsWith(`${FLASH_COOKIE}=`))!.split(';')[0]!.slice(FLASH_COOKIE.length + 1);
      expect((await c.agent.get('/console').expect(200)).text).toContain(`The card ${card} was revoked.`);
      expect((await c.agent.get('/console').expect(200)).text).not.toContain('was revoked.');
      // The cookie as the server made it shows its message (so the cookies below are sent as given).
      expect((await c.agent.get('/console').set('Cookie', `${FLASH_COOKIE}=${flash}`).expect(200)).text).toContain(`The card ${card} was revoked.`);
      const planted = Buffer.from('Call 555-0100 to keep your account').toString('base64url');
      const [, mac] = flash.split('.');
      for (const v of [`${planted}.${mac}`, planted, `${planted}.${'A'.repeat(43)}`]) {
        const page = await c.agent.get('/console').set('Cookie', `${FLASH_COOKIE}=${v}`).expect(200);
        expect(page.text).not.toContain('555-0100');
      }
    });

    it('revocation: unknown or malformed ids are a 404 in the console, a second revocation says it was already done', async () => {
      const c = await consoleAgent(s.app);
      for (const what of ['cards', 'codes', 'builds'])
        for (const id of ['card_NOPE', 'bad%20id', 'x'.repeat(65)]) {
          const page = await c.agent.get(`/console/${what}/${id}/revoke`).expect(404);
          expect(page.text).toContain('with this id');
          expect(page.text).toContain('action="/console/logout"');
          await c.agent.post(`/console/${what}/${id}/revoke`).type('form').send({ _csrf: c.csrf }).expect(404);
        }
      const card = (await s.seller.db.value('SELECT id FROM cards WHERE revoked_at IS NULL LIMIT 1')) as string;
      const confirm = await c.agent.get(`/console/cards/${card}/revoke`).expect(200);
      expect(confirm.text).toContain('This cannot be undone.');
      expect((await s.seller.db.value('SELECT revoked_at FROM cards WHERE id = ?', card))).toBeNull();
      await c.agent.post(`/console/cards/${card}/revoke`).type('form').send({ _csrf: c.csrf }).expect(303);
      const first = (await s.seller.db.value('SELECT revoked_at FROM cards WHERE id = ?', card));
      await c.agent.get('/console').expect(200);
      await c.agent.post(`/console/cards/${card}/revoke`).type('form').send({ _csrf: c.csrf }).expect(303);
      expect((await c.agent.get('/console').expect(200)).text).toContain('That card was already revoked.');
      expect((await s.seller.db.value('SELECT revoked_at FROM cards WHERE id = ?', card))).toBe(first);
    });
  });
});
