// Charging, pair keys, copy rights, pay-back, the status list and the seller console,
// against the real app over HTTP and a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import {
  buildParty,
  buildRecipient,
  cardParty,
  cardSecretsOf,
  fromBase64,
  fromUtf8,
  isSealError,
  openCardFile,
  openToCard,
  profileCerts,
  profileSecrets,
  sign,
  toBase64,
  verifyStatus,
  type CardData,
} from '../../card/index.js';
import { CODE_BUNDLE_CONTEXT, issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { confirmEmail, startConfirmation } from '../../distributor/seller/confirm.js';
import { signedRequest } from '../../distributor/client.js';
import {
  ChargeResponse,
  CopyRightResponse,
  PAIR_KEY_CONTEXT,
  PairResponse,
  STATEMENT_CONTEXT,
  StatementResponse,
  challengeMessage,
  type PairKeyPayload,
  type Statement,
} from '../../distributor/protocol.js';
import { openBytes, sealBytes } from '../support/world.js';
import { binaryParser, consoleAgent, count, csrfOf, makeServer, profileInXpi, state, tokenOf, visitor, type TestServer, BACKENDS } from './helpers.js';

let s: TestServer;
let server: Server;
let url: string;
let alice: IssuedCard;
let bob: IssuedCard;
describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({}, backend);
    alice = await issueCard(s.seller, { name: 'Alice', email: 'alice@example.test', codes: 4, maxCodes: 60 });
    bob = await issueCard(s.seller, { name: 'Bob', email: 'bob@example.test', codes: 1 });
    server = s.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await s.close();
  });

  const codeOf = async (p: Promise<unknown>) => p.then(() => 'resolved', (e) => (isSealError(e) ? e.code : String(e)));
  const key = (c: IssuedCard) => fromBase64(c.data.signSecret);
  const rows = async () => ({ codes: await count(s.seller, 'codes'), payments: await count(s.seller, 'payments'), paybacks: await count(s.seller, 'paybacks'), pairs: await count(s.seller, 'pairs') });

  async function answer(cardId: string, purpose: 'charge', secret: Uint8Array, params: { count: number }, sent = params) {
    const ch = (await request(url).post('/api/v1/challenge').send({ purpose, subjectId: cardId }).expect(200)).body;
    const signature = toBase64(sign(secret, challengeMessage({ purpose, subjectId: cardId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params })));
    return { body: { challengeId: ch.challengeId, subjectId: cardId, signature, ...sent }, challengeId: ch.challengeId as string };
  }

  describe('online charging (Fig. 14, 27)', () => {
    it('a signed fresh challenge buys codes sealed to the card, with the payment recorded', async () => {
      const before = await rows();
      const r = await signedRequest(url, 'charge', alice.cardId, key(alice), { count: 3 }, ChargeResponse);
      const bundle = JSON.parse(fromUtf8(openToCard(fromBase64(alice.data.kxSecret), CODE_BUNDLE_CONTEXT, fromBase64(r.bundle))));
      expect(bundle.codes.map((c: { serial: string }) => c.serial)).toEqual(r.serials);
      expect(await Promise.all(r.serials.map((x) => state(s.seller, x)))).toEqual(r.serials.map(() => 'unused'));
      expect((await rows()).codes).toBe(before.codes + 3);
      const pay = (await s.seller.db.get('SELECT * FROM payments WHERE id = ?', r.paymentId)) as { amount_cents: number; quantity: number; kind: string };
      expect(pay).toMatchObject({ kind: 'codes', quantity: 3, amount_cents: 300 });
      // Only Alice's card opens the bundle.
      expect(() => openToCard(fromBase64(bob.data.kxSecret), CODE_BUNDLE_CONTEXT, fromBase64(r.bundle))).toThrow();
    });

    it('refuses replayed, stale, wrongly signed, altered and over-limit requests, recording nothing', async () => {
      const before = await rows();
      const ok = await answer(alice.cardId, 'charge', key(alice), { count: 1 });
      await request(url).post('/api/v1/charge').send(ok.body).expect(200);
      const after = await rows();
      const replay = await request(url).post('/api/v1/charge').send(ok.body).expect(403);
      expect(replay.body.error.code).toBe('REFUSED');
      const stale = await answer(alice.cardId, 'charge', key(alice), { count: 1 });
      (await s.seller.db.run('UPDATE challenges SET expires_at = ? WHERE id = ?', Date.now() - 1, stale.challengeId));
      expect((await request(url).post('/api/v1/charge').send(stale.body).expect(410)).body.error.code).toBe('EXPIRED');
      const forged = await answer(alice.cardId, 'charge', key(bob), { count: 1 });
      await request(url).post('/api/v1/charge').send(forged.body).expect(403);
      const altered = await answer(alice.cardId, 'charge', key(alice), { count: 1 }, { count: 5 });
      await request(url).post('/api/v1/charge').send(altered.body).expect(403);
      const unknown = await answer('card_UNKNOWN000000000', 'charge', key(alice), { count: 1 });
      expect((await request(url).post('/api/v1/charge').send(unknown.body).expect(403)).body.error.message).toBe(
        (await request(url).post('/api/v1/charge').send(forged.body).expect(403)).body.error.message,
      );
      // Alice may hold 60 codes: 4 + 3 + 1 so far.
      expect(await codeOf(signedRequest(url, 'charge', alice.cardId, key(alice), { count: 53 }, ChargeResponse))).toBe('REFUSED');
      await request(url).post('/api/v1/charge').send({ challengeId: 'x', subjectId: alice.cardId, signature: '', count: -1 }).expect(400);
      await request(url).post('/api/v1/challenge').send({ purpose: 'steal', subjectId: alice.cardId }).expect(400);
      await request(url).post('/api/v1/challenge').set('content-type', 'application/json').send('{not json').expect(400);
      await request(url).post('/api/v1/charge').send({ ...ok.body, extra: 1 }).expect(400);
      expect(await rows()).toEqual(after);
      expect(after.codes).toBe(before.codes + 1);
    });
  });

  describe('pair keys (Fig. 11, 18)', () => {
    it('both cards receive the same key, sealed to each; they then exchange certified data', async () => {
      const carol = await issueCard(s.seller, { name: 'Carol', email: 'carol@example.test', codes: 0 });
      const r = await signedRequest(url, 'pair', alice.cardId, key(alice), { withCardId: carol.cardId }, PairResponse);
      const a = JSON.parse(fromUtf8(openToCard(fromBase64(alice.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forA)))) as PairKeyPayload;
      const c = JSON.parse(fromUtf8(openToCard(fromBase64(carol.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forB)))) as PairKeyPayload;
      expect(a.key).toBe(c.key);
      expect(() => openToCard(fromBase64(alice.data.kxSecret), PAIR_KEY_CONTEXT, fromBase64(r.forB))).toThrow();
      expect((await s.seller.db.get('SELECT card_a, card_b FROM pairs WHERE id = ?', r.pairId))).toEqual({ card_a: alice.cardId, card_b: carol.cardId });
      const withPair = (d: CardData, peer: string, k: string): CardData => ({ ...d, pairs: [{ pairId: r.pairId, peerCardId: peer, key: k }] });
      const A = cardParty(cardSecretsOf(withPair(alice.data, carol.cardId, a.key)));
      const C = cardParty(cardSecretsOf(withPair(carol.data, alice.cardId, c.key)));
      const sealed = await sealBytes(A, [{ kind: 'pair', label: r.pairId }], new TextEncoder().encode('to Carol'));
      const { opened, data } = await openBytes(C, sealed, s.seller.issuerPub);
      expect(opened.verdict.certified).toBe(true);
      expect(fromUtf8(data)).toBe('to Carol');
      // Bob, in Alice's group but not in the pair, cannot open it.
      expect(await codeOf(openBytes(cardParty(cardSecretsOf(bob.data)), sealed, s.seller.issuerPub))).toBe('NOT_FOR_US');
      expect(await codeOf(signedRequest(url, 'pair', alice.cardId, key(alice), { withCardId: alice.cardId }, PairResponse))).toBe('USAGE');
    });
  });

  describe('copy rights (claim 14, Fig. 3)', () => {
    it('a build proves itself with its build key; the copy code yields builds marked copyOf that talk with it', async () => {
      const d1 = (await redeemOffline(s.seller, { code: alice.data.codes[0]!.code, email: 'dana@example.test' })).profile;
      const r = await signedRequest(url, 'copy-right', d1.buildId, fromBase64(d1.buildSecret), { copies: 2 }, CopyRightResponse);
      // A third person redeems the copy code on the same page.
      const v = await visitor(s.app);
      const token = tokenOf((await v.redeem(r.code, 'frank@example.test').expect(200)).text);
      const d2 = profileInXpi(new Uint8Array((await request(s.app).get(`/download/${token}`).buffer(true).parse(binaryParser).expect(200)).body as Buffer));
      expect(profileCerts(d2).build.copyOf).toBe(d1.buildId);
      const sealed = await sealBytes(buildParty(profileSecrets(d1)), [buildRecipient(profileCerts(d1).build)], new TextEncoder().encode('d1 to d2'), { addressees: [fromBase64(d1.purchaserCert)] });
      const { opened } = await openBytes(buildParty(profileSecrets(d2)), sealed, s.seller.issuerPub);
      expect(opened.verdict.certified).toBe(true);
      // The copy code allows two builds; the original code's three copies are now 2 + at most 1.
      await (await visitor(s.app)).redeem(r.code, 'gina@example.test').expect(200);
      await (await visitor(s.app)).redeem(r.code, 'hank@example.test').expect(409);
      expect(await codeOf(signedRequest(url, 'copy-right', d1.buildId, fromBase64(d1.buildSecret), { copies: 2 }, CopyRightResponse))).toBe('REFUSED');
      // A copy hands out no further copies, and a build key cannot act for another build.
      expect(await codeOf(signedRequest(url, 'copy-right', d2.buildId, fromBase64(d2.buildSecret), { copies: 1 }, CopyRightResponse))).toBe('REFUSED');
      expect(await codeOf(signedRequest(url, 'copy-right', d1.buildId, fromBase64(d2.buildSecret), { copies: 1 }, CopyRightResponse))).toBe('REFUSED');
    });
  });

  describe('pay-back, statement, status list, console', () => {
    it('credits an invitee who buys a card and volume purchases; the statement is sealed to the card', async () => {
      // Ivy redeemed one of Alice's codes; later she buys a card in the console.
      const ivyGrant = await redeemOffline(s.seller, { code: alice.data.codes[1]!.code, email: 'Ivy@Example.test' });
      // ...and confirmed her address (the mailed link; tests/distributor/confirm.test.ts sends it).
      await confirmEmail(s.seller, await startConfirmation(s.seller, ivyGrant.redemptionId));
      const c = await consoleAgent(s.app);
      await c.agent
        .post('/console/cards')
        .type('form')
        .send({ name: 'Ivy', email: 'ivy@example.test', group: 'new', codes: '2', maxCodes: '100', amount: '2500', passphrase: 'ivy passphrase', passphrase2: 'ivy passphrase', _csrf: c.csrf })
        .expect(303)
        .expect('Location', '/console/issued');
      const issued = await c.agent.get('/console/issued/card').buffer(true).parse(binaryParser).expect(200);
      expect(issued.headers['content-disposition']).toMatch(/attachment; filename="card_.*\.card"/);
      const ivy = await openCardFile(Buffer.from(issued.body as Buffer).toString('utf8'), 'ivy passphrase');
      expect(ivy.codes).toHaveLength(2);
      await signedRequest(url, 'charge', ivy.cardId, fromBase64(ivy.signSecret), { count: 50 }, ChargeResponse);
      const st = await signedRequest(url, 'statement', alice.cardId, key(alice), {}, StatementResponse);
      const statement = JSON.parse(fromUtf8(openToCard(fromBase64(alice.data.kxSecret), STATEMENT_CONTEXT, fromBase64(st.sealed)))) as Statement;
      expect(statement.entries.map((e) => e.rule)).toEqual(['invitee-card']);
      expect(statement.entries[0]).toMatchObject({ source: ivy.cardId, amountCents: 500, points: 50 });
      const ivySt = JSON.parse(
        fromUtf8(openToCard(fromBase64(ivy.kxSecret), STATEMENT_CONTEXT, fromBase64((await signedRequest(url, 'statement', ivy.cardId, fromBase64(ivy.signSecret), {}, StatementResponse)).sealed))),
      ) as Statement;
      expect(ivySt.entries).toEqual([expect.objectContaining({ rule: 'volume', amountCents: 250, points: 50 })]);
      const csv = await c.agent.get('/console/payback.csv').expect(200);
      expect(csv.headers['content-type']).toMatch(/text\/csv/);
      expect(csv.text.split('\r\n').filter(Boolean)).toHaveLength(3);
      expect(csv.text).toContain('invitee-card');
      // Applying the rules again credits nothing twice.
      await c.agent.get('/console/payback').expect(200);
      expect(await count(s.seller, 'paybacks')).toBe(2);
    });

    it('the console logs in, refuses CSRF-less posts, lists codes and revokes; the status list is signed and cacheable', async () => {
      await request(s.app).get('/console').expect(303).expect('Location', '/console/login');
      const login = await request.agent(s.app).get('/console/login');
      await request(s.app).post('/console/login').type('form').send({ password: 'wrong', _csrf: csrfOf(login.text) }).expect(403);
      const agent = request.agent(s.app);
      const l = await agent.get('/console/login');
      await agent.post('/console/login').type('form').send({ password: 'wrong', _csrf: csrfOf(l.text) }).expect(401);
      const c = await consoleAgent(s.app);
      const before = await count(s.seller, 'cards');
      await c.agent.post('/console/cards').type('form').send({ name: 'X', email: 'x@example.test', group: 'new', codes: '1', maxCodes: '10', amount: '0', passphrase: 'xxxxxxxx', passphrase2: 'xxxxxxxx' }).expect(403);
      expect(await count(s.seller, 'cards')).toBe(before);
      const form = { name: 'X', email: 'x@example.test', group: 'new', codes: '1', maxCodes: '10', amount: '0', passphrase: 'xxxxxxxx', passphrase2: 'xxxxxxxx', _csrf: c.csrf };
      for (const bad of [{ passphrase2: 'yyyyyyyy' }, { codes: '11' }, { email: 'nope' }, { passphrase: 'short', passphrase2: 'short' }, { group: 'grp_UNKNOWN' }, { purchaserId: 'pur_UNKNOWN' }, { moduleKind: 'floppy' }, { moduleKind: 'pkcs11' }]) {
        const r = await c.agent.post('/console/cards').type('form').send({ ...form, ...bad });
        expect(r.status, JSON.stringify(bad)).toBeGreaterThanOrEqual(400);
        expect(r.text).toContain('not issued');
      }
      expect(await count(s.seller, 'cards')).toBe(before);
      // A purchaser's further card.
      await c.agent.post('/console/cards').type('form').send({ ...form, purchaserId: alice.purchaserId }).expect(303);
      expect((await s.seller.db.value('SELECT COUNT(*) FROM cards WHERE purchaser_id = ?', alice.purchaserId))).toBe(2);
      const serial = alice.data.codes[2]!.serial;
      const codes = await c.agent.get(`/console/codes?card=${alice.cardId}`).expect(200);
      expect(codes.text).toContain(serial);
      expect(codes.headers['content-security-policy']).toContain("script-src 'self'");
      await c.agent.post(`/console/codes/${serial}/revoke`).type('form').send({}).expect(403);
      await c.agent.post(`/console/codes/${serial}/revoke`).type('form').send({ _csrf: c.csrf }).expect(303);
      const build = ((await s.seller.db.value('SELECT build_id FROM redemptions LIMIT 1')) as string);
      await c.agent.post(`/console/builds/${build}/revoke`).type('form').send({ _csrf: c.csrf }).expect(303);
      const st = await request(s.app).get('/api/v1/status').expect(200);
      expect(st.headers['cache-control']).toMatch(/max-age=\d+/);
      const list = verifyStatus(st.body, s.seller.issuerPub);
      expect(list.revoked.codes).toContain(serial);
      expect(list.revoked.builds).toContain(build);
      await request(s.app).get('/api/v1/status').set('If-None-Match', st.headers.etag!).expect(304);
      expect(() => verifyStatus({ ...st.body, body: toBase64(new TextEncoder().encode('{"issuedAt":1,"revoked":{"codes":[],"builds":[],"cards":[]}}')) }, s.seller.issuerPub)).toThrow();
      // The revoked code cannot be redeemed any more.
      await (await visitor(s.app)).redeem(alice.data.codes[2]!.code, 'j@example.test').expect(410);
      for (const p of ['/console/redemptions', '/console/payments', '/console/payback']) await c.agent.get(p).expect(200);
      await c.agent.post('/console/logout').type('form').send({ _csrf: c.csrf }).expect(303);
    });
  });
});
