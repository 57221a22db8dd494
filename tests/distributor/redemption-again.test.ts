// Redemption that cannot strand anyone: until the download is done, the same code with
// the same email, or from the same browser, shows the same download again; another
// email elsewhere is refused; once the window has closed the code is used up. Refusals
// keep what was typed and say what to do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { revokeCode } from '../../distributor/seller/revoke.js';
import { binaryParser, count, makeServer, profileInXpi, state, tokenOf, visitor, type TestServer, BACKENDS, settled } from './helpers.js';

let s: TestServer;
let paula: IssuedCard;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({}, backend);
    paula = await issueCard(s.seller, { name: 'Paula Purchaser', email: 'paula@example.test', codes: 6 });
  });
  afterAll(async () => await s.close());

  const alertOf = (t: string) => /role="alert" id="error"><p>([^<]*)</.exec(t)?.[1];

  describe('the same download again', () => {
    it('the same code and email, from another browser, before the download: the same link; after it: already used', async () => {
      const code = paula.data.codes[0]!;
      const first = await (await visitor(s.app)).redeem(code.code, 'dana@example.test').expect(200);
      const token = tokenOf(first.text);
      // Typed again elsewhere, in other case and spacing: the same link, no second build.
      const second = await (await visitor(s.app)).redeem(code.code.toLowerCase(), ' DANA@example.test ').expect(200);
      expect(tokenOf(second.text)).toBe(token);
      expect(await count(s.seller, 'redemptions')).toBe(1);
      const xpi = await request(s.app).get(`/download/${token}`).buffer(true).parse(binaryParser).expect(200);
      expect(profileInXpi(new Uint8Array(xpi.body as Buffer)).buildId).toMatch(/^build_/);
      expect(await settled(() => state(s.seller, code.serial), 'already_used')).toBe('already_used');
      const after = await (await visitor(s.app)).redeem(code.code, 'dana@example.test').expect(409);
      expect(alertOf(after.text)).toBe('This code has already been used. Ask the person who gave it to you for a new one.');
      // The sealed token went with the rest of the download's secrets.
      expect((await s.seller.db.value('SELECT sealed_token FROM redemptions'))).toBeNull();
    });

    it('the same browser gets its download back even with another email; another browser with another email is refused', async () => {
      const code = paula.data.codes[1]!;
      const v = await visitor(s.app);
      const token = tokenOf((await v.redeem(code.code, 'erin@example.test').expect(200)).text);
      expect(tokenOf((await v.redeem(code.code, 'erin.typo@example.test').expect(200)).text)).toBe(token);
      const other = await (await visitor(s.app)).redeem(code.code, 'mallory@example.test').expect(409);
      expect(alertOf(other.text)).toMatch(/^This code is being redeemed with another email address\. If that was you, type the address you used then/);
      expect(await count(s.seller, 'redemptions')).toBe(2);
    });

    it('after the window the code is used up, and says so', async () => {
      const t = await makeServer({ resumeWindowMs: 1 }, backend);
      try {
        const card = await issueCard(t.seller, { name: 'W', email: 'w@example.test', codes: 1 });
        const code = card.data.codes[0]!.code;
        const v = await visitor(t.app);
        await v.redeem(code, 'w2@example.test').expect(200);
        await new Promise((r) => setTimeout(r, 20));
        const late = await v.redeem(code, 'w2@example.test').expect(409);
        expect(alertOf(late.text)).toMatch(/already been used/);
      } finally {
        t.close();
      }
    });

    it('a code withdrawn while its download is open is not shown again', async () => {
      const code = paula.data.codes[2]!;
      const v = await visitor(s.app);
      await v.redeem(code.code, 'frank@example.test').expect(200);
      await revokeCode(s.seller, code.serial);
      const r = await v.redeem(code.code, 'frank@example.test').expect(410);
      expect(alertOf(r.text)).toMatch(/withdrawn by the person who gave it to you/);
    });
  });

  describe('the page', () => {
    it('names who invites the visitor and shows the expiry as a <time> with a script for local time', async () => {
      const r = await (await visitor(s.app)).redeem(paula.data.codes[3]!.code, 'gina@example.test').expect(200);
      expect(r.text).toContain('Paula Purchaser &lt;paula@example.test&gt;</strong> invites you to exchange sealed attachments');
      expect(r.text).toMatch(/<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z" data-local>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
      expect(r.text).toMatch(/<form method="get" action="\/download\/[A-Za-z0-9_-]{43}"><button id="download" class="download" type="submit">/);
      expect(r.text).toContain('<script src="/assets/local-time.js" defer></script>');
      const js = await request(s.app).get('/assets/local-time.js').expect(200);
      expect(js.headers['content-type']).toMatch(/javascript/);
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    });

    it('keeps the code and email typed when it refuses, in full sentences', async () => {
      const code = paula.data.codes[4]!.code;
      const typo = code.slice(0, -1) + (code.endsWith('0') ? '1' : '0');
      const v = await visitor(s.app);
      const bad = await v.redeem(typo, 'hal@example.test').expect(400);
      expect(bad.text).toContain(`value="${typo}"`);
      expect(bad.text).toContain('value="hal@example.test"');
      expect(alertOf(bad.text)).toMatch(/^This code is not valid\. .+\.$/);
      const noMail = await v.redeem(code, 'hal@').expect(400);
      expect(noMail.text).toContain(`value="${code}"`);
      expect(alertOf(noMail.text)).toBe('Type a whole email address, like name@example.org.');
      expect(await state(s.seller, paula.data.codes[4]!.serial)).toBe('unused');
    });
  });
});
