// The redemption page and the download, against the real app and a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { formatCode, cardParty, cardSecretsOf, buildParty, buildRecipient, profileCerts, profileSecrets, fromBase64 } from '../../card/index.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { sealBytes, openBytes } from '../support/world.js';
import { binaryParser, count, makeServer, profileInXpi, state, tokenOf, visitor, type TestServer, BACKENDS, settled } from './helpers.js';

let s: TestServer;
let alice: IssuedCard;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({}, backend);
    alice = await issueCard(s.seller, { name: 'Alice', email: 'alice@example.test', codes: 6 });
  });
  afterAll(async () => await s.close());

  describe('redemption page', () => {
    it('a right code gives the real dedicated XPI, whose profile opens what the card sealed; exactly once', async () => {
      const code = alice.data.codes[0]!;
      const v = await visitor(s.app);
      const page = await v.redeem(code.code.toLowerCase(), 'dana@example.test').expect(200);
      expect(page.text).toContain('Your add-on is ready');
      expect(page.text).not.toContain(code.code);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(await state(s.seller, code.serial)).toBe('in_use');
      const token = tokenOf(page.text);
      const dl = await request(s.app).get(`/download/${token}`).buffer(true).parse(binaryParser).expect(200);
      expect(dl.headers['content-type']).toBe('application/x-xpinstall');
      expect(dl.headers['accept-ranges']).toBe('bytes');
      const xpi = new Uint8Array(dl.body as Buffer);
      const profile = profileInXpi(xpi);
      expect(profileCerts(profile).build.serial).toBe(code.serial);
      expect(profileCerts(profile).build.redeemerEmail).toBe('dana@example.test');
      expect(await settled(() => state(s.seller, code.serial), 'already_used')).toBe('already_used');
      // The purchaser seals for the build; the build in the download opens it, certified.
      const secret = new TextEncoder().encode('attachment for Dana');
      const sealed = await sealBytes(cardParty(cardSecretsOf(alice.data)), [buildRecipient(profileCerts(profile).build)], secret);
      const { opened, data } = await openBytes(buildParty(profileSecrets(profile)), sealed, s.seller.issuerPub);
      expect(opened.verdict.certified).toBe(true);
      expect(Buffer.from(data).toString()).toBe('attachment for Dana');
      // The link is single-use and the code gives nothing more.
      await request(s.app).get(`/download/${token}`).expect(410);
      await request(s.app).get('/download/short').expect(404);
      await request(s.app).get(`/download/${'A'.repeat(43)}`).expect(410);
      const again = await (await visitor(s.app)).redeem(code.code, 'eve@example.test').expect(409);
      expect(again.text).toContain('already been used');
      expect(await count(s.seller, 'redemptions')).toBe(1);
      // The redemption wiped the build's secrets from the database.
      const row = (await s.seller.db.get('SELECT sealed_profile, token_hash FROM redemptions')) as Record<string, unknown>;
      expect(row.sealed_profile).toBeNull();
      expect(row.token_hash).toBeNull();
    });

    it('a mistyped code and an unknown serial give the same error page, and change nothing', async () => {
      const code = alice.data.codes[1]!.code;
      const v = await visitor(s.app);
      const typo = code.slice(0, -1) + (code.endsWith('0') ? '1' : '0');
      const a = await v.redeem(typo, 'x@example.test').expect(400);
      // A well-formed code whose serial does not exist: swap the serial for another card's.
      const other = (await issueCard(s.seller, { name: 'Zed', email: 'zed@example.test', codes: 1 })).data.codes[0]!;
      (await s.seller.db.run('DELETE FROM codes WHERE serial = ?', other.serial));
      const b = await v.redeem(other.code, 'x@example.test').expect(400);
      const msg = (t: string) => /role="alert" id="error"><p>([^<]*)</.exec(t)![1];
      expect(msg(a.text)).toBe(msg(b.text));
      expect(msg(a.text)).toMatch(/not valid/);
      expect(await state(s.seller, alice.data.codes[1]!.serial)).toBe('unused');
      // A bad email is refused before anything is granted.
      await v.redeem(code, 'not-an-email').expect(400);
      expect(await state(s.seller, alice.data.codes[1]!.serial)).toBe('unused');
    });

    it('refuses posts without the CSRF token or cookie, and from another origin', async () => {
      const code = alice.data.codes[2]!;
      await request(s.app).post('/redeem').type('form').send({ code: code.code, email: 'x@example.test' }).expect(403);
      const v = await visitor(s.app);
      await v.agent.post('/redeem').type('form').send({ code: code.code, email: 'x@example.test' }).expect(403);
      await v.agent.post('/redeem').type('form').send({ code: code.code, email: 'x@example.test', _csrf: v.csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }).expect(403);
      // A token from another browser does not fit this browser's cookie.
      const w = await visitor(s.app);
      await v.agent.post('/redeem').type('form').send({ code: code.code, email: 'x@example.test', _csrf: w.csrf }).expect(403);
      await v.agent.post('/redeem').set('Origin', 'http://evil.example').type('form').send({ code: code.code, email: 'x@example.test', _csrf: v.csrf }).expect(403);
      expect(await state(s.seller, code.serial)).toBe('unused');
    });

    it('resumes an interrupted download with Range on the same link, then completes', async () => {
      const code = alice.data.codes[3]!;
      const token = tokenOf((await (await visitor(s.app)).redeem(code.code, 'r@example.test').expect(200)).text);
      const head = await request(s.app).get(`/download/${token}`).set('Range', 'bytes=0-999').buffer(true).parse(binaryParser).expect(206);
      expect(head.headers['content-range']).toMatch(/^bytes 0-999\/\d+$/);
      const size = Number(/\/(\d+)$/.exec(head.headers['content-range']!)![1]);
      expect(await state(s.seller, code.serial)).toBe('in_use');
      // If-Range with a stale ETag gets the whole file, per RFC 9110; it completes the download.
      const whole = await request(s.app).get(`/download/${token}`).set('Range', 'bytes=1000-').set('If-Range', '"stale"').buffer(true).parse(binaryParser).expect(200);
      expect((whole.body as Buffer).length).toBe(size);
      expect(await settled(() => state(s.seller, code.serial), 'already_used')).toBe('already_used');
    });

    it('a resumed download continues the very same bytes', async () => {
      const code = alice.data.codes[4]!;
      const token = tokenOf((await (await visitor(s.app)).redeem(code.code, 'q@example.test').expect(200)).text);
      const first = await request(s.app).get(`/download/${token}`).set('Range', 'bytes=0-1499').buffer(true).parse(binaryParser).expect(206);
      const etag = first.headers.etag!;
      await request(s.app).get(`/download/${token}`).set('Range', 'bytes=999999999-').expect(416);
      // Ranges cut across the template's prefix and the build's own tail.
      const size = Number(/\/(\d+)$/.exec(first.headers['content-range']!)![1]);
      const mid = await request(s.app).get(`/download/${token}`).set('Range', `bytes=1500-${size - 101}`).buffer(true).parse(binaryParser).expect(206);
      expect(await state(s.seller, code.serial)).toBe('in_use');
      const rest = await request(s.app).get(`/download/${token}`).set('Range', 'bytes=-100').set('If-Range', etag).buffer(true).parse(binaryParser).expect(206);
      const whole = Buffer.concat([first.body as Buffer, mid.body as Buffer, rest.body as Buffer]);
      expect(whole.length).toBe(size);
      expect(profileInXpi(new Uint8Array(whole)).buildId).toMatch(/^build_/);
      expect(await settled(() => state(s.seller, code.serial), 'already_used')).toBe('already_used');
      await request(s.app).get(`/download/${token}`).set('Range', 'bytes=1500-').expect(410);
    });

    it('once the resume window has closed the link gives nothing, and the code is used up', async () => {
      const t = await makeServer({ resumeWindowMs: 1 }, backend);
      try {
        const card = await issueCard(t.seller, { name: 'W', email: 'w@example.test', codes: 2 });
        const v = await visitor(t.app);
        const token = tokenOf((await v.redeem(card.data.codes[0]!.code, 'w@example.test').expect(200)).text);
        await new Promise((r) => setTimeout(r, 20));
        await request(t.app).get(`/download/${token}`).expect(410);
        // The next grant sweeps closed windows: the abandoned code is already_used.
        await v.redeem(card.data.codes[1]!.code, 'w@example.test').expect(200);
        expect(await state(t.seller, card.data.codes[0]!.serial)).toBe('already_used');
        await v.redeem(card.data.codes[0]!.code, 'w@example.test').expect(409);
      } finally {
        t.close();
      }
    });

    it('rate-limits redemption per client and per serial', async () => {
      const t = await makeServer({ limits: { redeemPerSerial: { windowMs: 60_000, max: 2 }, redeemPerClient: { windowMs: 60_000, max: 4 } } }, backend);
      try {
        const card = await issueCard(t.seller, { name: 'R', email: 'r@example.test', codes: 2 });
        const wrong = formatCode(card.data.codes[0]!.serial, 'Z'.repeat(16)); // right serial, wrong secret
        const v = await visitor(t.app);
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await v.redeem(wrong, 'x@example.test')).status);
        expect(statuses.slice(-1)[0]).toBe(429);
        const w = await visitor(t.app);
        expect((await w.redeem(card.data.codes[1]!.code, 'x@example.test')).status).toBe(200);
        expect((await w.redeem(card.data.codes[1]!.code, 'x@example.test')).status).toBe(429); // fifth from this client
        expect(await state(t.seller, card.data.codes[0]!.serial)).toBe('unused');
      } finally {
        t.close();
      }
    });

    it('refuses oversized bodies and never logs codes, tokens or cookies', async () => {
      const v = await visitor(s.app);
      await v.agent.post('/redeem').type('form').send({ code: 'x'.repeat(10_000), email: 'a@b.c', _csrf: v.csrf }).expect(413);
      await request(s.app).post('/api/v1/challenge').set('content-type', 'application/json').send('{"x":"' + 'y'.repeat(20_000) + '"}').expect(413);
      const logs = s.logs.join('');
      expect(logs).toContain('redemption.granted');
      for (const c of alice.data.codes) {
        expect(logs).not.toContain(c.code);
        expect(logs).not.toContain(c.code.replace(/^SC-/, '').replace(/-/g, '').slice(10));
      }
      expect(logs).not.toMatch(/\/download\/[A-Za-z0-9_-]{43}/);
      expect(logs).not.toMatch(/sc_csrf|sc_session|cookie/i);
      expect(fromBase64(alice.data.signSecret).length).toBe(32);
    });
  });
});
