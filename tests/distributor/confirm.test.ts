// Pay-back cannot be squatted: an invitee's credit needs the redeemer's address
// confirmed through a link mailed by the distributor (nodemailer to a real SMTP server,
// the smtp-server sink). The link's token is hashed at rest, works once, and expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { applyPaybacks, DEFAULT_RULES } from '../../distributor/seller/payback.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { count, csrfOf, makeServer, tokenOf, visitor, type TestServer, BACKENDS } from './helpers.js';

let sink: SmtpSink;
let s: TestServer;
let paula: IssuedCard;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    sink = await startSmtpSink();
    s = await makeServer({ smtpUrl: `smtp://${sink.host}:${sink.port}`, mailFrom: 'sealcode <codes@example.test>', publicUrl: 'http://codes.example.test' }, backend);
    paula = await issueCard(s.seller, { name: 'Paula Purchaser', email: 'paula@example.test', codes: 4 });
  });
  afterAll(async () => {
    await s.close();
    await sink.stop();
  });

  /** The confirmation link of the n-th mail, and its recipient. */
  async function mailed(n: number): Promise<{ to: string; path: string; token: string }> {
    const msg = (await sink.waitFor(n))[n - 1]!;
    const parsed = await sink.parse(msg);
    const m = /http:\/\/codes\.example\.test(\/confirm\/([A-Za-z0-9_-]{43}))/.exec(parsed.text ?? '');
    if (!m) throw new Error(`no confirmation link in: ${parsed.text}`);
    expect(parsed.text).toContain('Paula Purchaser <paula@example.test> gave you a sealcode code');
    expect(parsed.from?.value[0]?.address).toBe('codes@example.test');
    return { to: msg.envelope.rcptTo[0]!, path: m[1]!, token: m[2]! };
  }

  const buyCard = (name: string, email: string) => issueCard(s.seller, { name, email, codes: 0 });
  const inviteeCredits = async () => (await s.seller.db.value<number>("SELECT COUNT(*) FROM paybacks WHERE rule = 'invitee-card'"))!;

  describe('confirmed redeemer emails', () => {
    it('a purchaser who redeems their own code with a prospect’s address gets no credit when the prospect buys', async () => {
      sink.clear();
      await (await visitor(s.app)).redeem(paula.data.codes[0]!.code, 'prospect@example.test').expect(200);
      const mail = await mailed(1);
      expect(mail.to).toBe('prospect@example.test');
      // The prospect never confirms (it was not them), and later buys a card.
      await buyCard('Prospect', 'prospect@example.test');
      expect(await applyPaybacks(s.seller, DEFAULT_RULES)).toBe(0);
      expect(await inviteeCredits()).toBe(0);
    });

    it('an invitee who confirmed earns the purchaser the credit; the link works once, and GET alone confirms nothing', async () => {
      sink.clear();
      const v = await visitor(s.app);
      const page = await v.redeem(paula.data.codes[1]!.code, 'ivy@example.test').expect(200);
      // Shown again (a reload): no second mail.
      expect(tokenOf((await v.redeem(paula.data.codes[1]!.code, 'ivy@example.test').expect(200)).text)).toBe(tokenOf(page.text));
      const mail = await mailed(1);
      expect(mail.to).toBe('ivy@example.test');
      // Only a hash of the token is stored.
      const stored = JSON.stringify((await s.seller.db.all('SELECT * FROM email_confirmations')));
      expect(stored).not.toContain(mail.token);
      // Case matters: the other spelling is nowhere.
      await request(s.app).get(mail.path.replace('/confirm/', '/CONFIRM/')).expect(404);
      const ivyBrowser = request.agent(s.app);
      const form = await ivyBrowser.get(mail.path).expect(200);
      expect(form.text).toContain('Confirm my address');
      expect((await s.seller.db.value('SELECT email_confirmed_at FROM redemptions WHERE redeemer_email = ?', 'ivy@example.test'))).toBeNull();
      const done = await ivyBrowser.post(mail.path).type('form').send({ _csrf: csrfOf(form.text) }).expect(200);
      expect(done.text).toContain('ivy@example.test</strong> is confirmed');
      const again = await ivyBrowser.post(mail.path).type('form').send({ _csrf: csrfOf(form.text) }).expect(410);
      expect(again.text).toContain('already been used');
      await buyCard('Ivy', 'ivy@example.test');
      await applyPaybacks(s.seller, DEFAULT_RULES);
      expect(await inviteeCredits()).toBe(1);
      const logs = s.logs.join('');
      expect(logs).not.toContain(mail.token);
      expect(logs).toContain('"route":"/confirm/:token"');
    });

    it('an expired or made-up link is refused and confirms nothing', async () => {
      sink.clear();
      await (await visitor(s.app)).redeem(paula.data.codes[2]!.code, 'late@example.test').expect(200);
      const mail = await mailed(1);
      (await s.seller.db.run('UPDATE email_confirmations SET expires_at = ?', Date.now() - 1));
      const b = request.agent(s.app);
      const form = await b.get(mail.path).expect(200);
      const r = await b.post(mail.path).type('form').send({ _csrf: csrfOf(form.text) }).expect(410);
      expect(r.text).toContain('expired');
      await b.post(`/confirm/${'A'.repeat(43)}`).type('form').send({ _csrf: csrfOf(form.text) }).expect(410);
      await b.post('/confirm/short').type('form').send({ _csrf: csrfOf(form.text) }).expect(410);
      expect((await s.seller.db.value('SELECT COUNT(*) FROM redemptions WHERE email_confirmed_at IS NOT NULL'))).toBe(1);
    });

    it('a relay that refuses the mail is logged; the redemption still succeeds', async () => {
      sink.setReject({ code: 550, message: 'no such user' });
      try {
        const before = await count(s.seller, 'redemptions');
        await (await visitor(s.app)).redeem(paula.data.codes[3]!.code, 'bounce@example.test').expect(200);
        expect(await count(s.seller, 'redemptions')).toBe(before + 1);
        await expect.poll(() => s.logs.join('').includes('"event":"mail.failed"')).toBe(true);
      } finally {
        sink.setReject(undefined);
      }
    });
  });
});
