// The adversarial seller: it holds the whole data folder, the database, the master key,
// the logs, and a capture of every HTTP request body the distributor received, and it
// tries to open the mail between a purchaser and the holder of a blind code. It cannot.
// The same attack opens the mail of a non-blind code, so the test can fail.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  blindCharsOf,
  blindCodeKey,
  blindMessage,
  buildParty,
  buildRecipient,
  cardParty,
  cardSecretsOf,
  codeKey,
  completeProfile,
  formatBlindCode,
  formatBlindPart,
  isSealError,
  normalize,
  parseBlindPart,
  profileCerts,
  profileSecrets,
  randomKey,
  toBase64,
  toHex,
  unwrapFileKey,
  type DedicatedProfile,
  type Stanza,
} from '../../card/index.js';
import { readHeader } from '../../card/container/open.js';
import { SourceReader } from '../../card/container/source.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { openSeller, type Seller } from '../../distributor/seller/seller.js';
import { openBytes, sealBytes } from '../support/world.js';
import { binaryParser, makeServer, profileInXpi, tokenOf, csrfOf, type TestServer, BACKENDS } from './helpers.js';

let s: TestServer;
let upstream: http.Server;
let proxy: http.Server;
let base: string;
const bodies: Buffer[] = [];

/** Every request passes through here on its way to the distributor; its body is kept. */
function capturingProxy(target: number): http.Server {
  return http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      bodies.push(body);
      const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.rawHeaders);
        r.pipe(res);
      });
      up.end(body);
    });
  });
}

const listen = (srv: http.Server): Promise<number> => new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok((srv.address() as AddressInfo).port)));

let alice: IssuedCard; // blind group, holds B
let carol: IssuedCard; // ordinary group
let blindSecret: Uint8Array;

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    s = await makeServer({}, backend);
    upstream = http.createServer(s.app);
    proxy = capturingProxy(await listen(upstream));
    base = `http://127.0.0.1:${await listen(proxy)}`;
    alice = await issueCard(s.seller, { name: 'Alice', email: 'alice@example.test', codes: 3, blind: true });
    carol = await issueCard(s.seller, { name: 'Carol', email: 'carol@example.test', codes: 2 });
    // `card blind` on Alice's machine: the seller never sees B.
    blindSecret = randomKey();
    alice.data.blindSecret = toBase64(blindSecret);
  });
  afterAll(async () => {
    await new Promise((ok) => proxy.close(ok));
    await new Promise((ok) => upstream.close(ok));
    await s.close();
  });

  const blindPartOf = (serial: string): string => formatBlindPart('code', serial, blindCharsOf(hmac(sha256, blindSecret, blindMessage('code', serial))));

  /** The redeemer on the distributor's page, as the page asks: the seller's part only. */
  async function redeemOnPage(code: string, email: string): Promise<DedicatedProfile> {
    const agent = request.agent(base);
    const page = await agent.get('/').expect(200);
    expect(page.text).toMatch(/type only the part before it/);
    const done = await agent.post('/redeem').type('form').send({ code, email, _csrf: csrfOf(page.text) }).expect(200);
    const dl = await agent.get(`/download/${tokenOf(done.text)}`).buffer(true).parse(binaryParser).expect(200);
    return profileInXpi(new Uint8Array(dl.body as Buffer));
  }

  const message = new TextEncoder().encode('the contract, for the holder of the code only');

  async function everyRow(seller: Seller): Promise<string[]> {
    const out: string[] = [];
    for (const t of ['issuer_keys', 'purchasers', 'groups', 'cards', 'codes', 'redemptions', 'payments', 'challenges', 'server_secrets', 'settings', 'console_sessions', 'issued_views', 'email_confirmations'])
      for (const row of await seller.db.all(`SELECT * FROM ${t}`)) for (const v of Object.values(row)) out.push(Buffer.isBuffer(v) ? v.toString('latin1') : String(v));
    return out;
  }

  /**
   * What the seller can try with everything it holds: K(serial) from its group key, and
   * K(serial) mixed with every blind-part-shaped string found in its files, database,
   * logs and captured request bodies. The file key, if any of them opens the stanza.
   */
  async function sellerAttack(dataDir: string, sealedStanzas: Stanza[], serial: string, groupId: string): Promise<Uint8Array | null> {
    const seller = await openSeller(dataDir, { dbUrl: s.dbUrl });
    try {
      const k = codeKey(await seller.groupKey(groupId), serial);
      const texts = [
        ...bodies.map((b) => b.toString('latin1')),
        ...s.logs,
        ...walk(dataDir).map((f) => fs.readFileSync(f).toString('latin1')),
        // Every row of the database (on PostgreSQL it is not in the data folder).
        ...(await everyRow(seller)),
      ];
      const candidates = new Set<string>();
      for (const t of texts)
        // Form bodies are URL-encoded; only ASCII escapes can hide a code, and decoding those alone never throws on binary files.
        for (const tok of t.replace(/\+/g, ' ').replace(/%([0-7][0-9A-F])/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).split(/[^0-9A-Za-z-]+/)) {
          const n = normalize(tok);
          for (let i = 0; i + 18 <= n.length; i++) candidates.add(n.slice(i, i + 18));
        }
      const keys = [k];
      for (const c of candidates)
        try {
          keys.push(blindCodeKey(k, parseBlindPart('code', serial, c)));
        } catch {
          /* not a blind part of this code */
        }
      for (const key of keys)
        for (const st of sealedStanzas) {
          const fk = unwrapFileKey(key, st);
          if (fk) return fk;
        }
      return null;
    } finally {
      await seller.close();
    }
  }

  function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  }

  /** A container's stanzas: what a gateway or the seller's mail server sees of it. */
  async function stanzasOf(sealed: Uint8Array): Promise<Stanza[]> {
    const one = async function* () {
      yield sealed;
    };
    return (await readHeader(new SourceReader(one()))).stanzas;
  }

  describe('an adversarial seller', () => {
    it('cannot open the mail of a blind code, with all it holds and every request body', async () => {
      const code = alice.data.codes[0]!;
      const full = formatBlindCode(code.code, blindPartOf(code.serial));
      const fetched = await redeemOnPage(code.code, 'dana@example.test');
      expect(fetched.blind).toBe('needed');
      // The build refuses until it has its blind part, with that reason.
      expect(() => profileSecrets(fetched)).toThrow(/lacks the code's blind part/);
      try {
        profileSecrets(fetched);
      } catch (e) {
        expect(isSealError(e, 'REFUSED')).toBe(true);
      }
      const dana = completeProfile(fetched, full);

      // Alice and Dana talk; both ways work.
      const alicePart = cardParty(cardSecretsOf(alice.data));
      const sealed = await sealBytes(alicePart, [buildRecipient(profileCerts(dana).build)], message);
      expect(Buffer.from((await openBytes(buildParty(profileSecrets(dana)), sealed, s.seller.issuerPub)).data).toString()).toBe(Buffer.from(message).toString());
      const back = await sealBytes(buildParty(profileSecrets(dana)), [buildRecipient(profileCerts(dana).build)], message, { addressees: [Buffer.from(alice.data.cert, 'base64')] });
      expect((await openBytes(alicePart, back, s.seller.issuerPub)).opened.verdict.certified).toBe(true);

      // Nothing the seller holds carries the blind part, in any spelling.
      const part = blindPartOf(code.serial);
      const bits = parseBlindPart('code', code.serial, part);
      const spellings = [part, normalize(part), toHex(bits), toBase64(bits), full];
      for (const t of [...bodies.map((b) => b.toString('latin1')), ...s.logs, ...walk(s.dir).map((f) => fs.readFileSync(f).toString('latin1'))])
        for (const sp of spellings) expect(t.includes(sp)).toBe(false);
      expect(bodies.length).toBeGreaterThanOrEqual(3);

      for (const c of [sealed, back]) expect(await sellerAttack(s.dir, await stanzasOf(c), code.serial, alice.groupId)).toBeNull();
    });

    it('opens the mail of an ordinary code with the very same attack (so the test above can fail)', async () => {
      const code = carol.data.codes[0]!;
      const dana = await redeemOnPage(code.code, 'erin@example.test');
      expect(dana.blind).toBeUndefined();
      const sealed = await sealBytes(cardParty(cardSecretsOf(carol.data)), [buildRecipient(profileCerts(dana).build)], message);
      const fk = await sellerAttack(s.dir, await stanzasOf(sealed), code.serial, carol.groupId);
      expect(fk).not.toBeNull();
    });

    it('takes a pasted whole code on the page, redeems its seller part and keeps nothing of the blind part', async () => {
      const code = alice.data.codes[1]!;
      const full = formatBlindCode(code.code, blindPartOf(code.serial));
      const before = bodies.length;
      const profile = await redeemOnPage(full, 'frank@example.test');
      expect(profileCerts(profile).build.serial).toBe(code.serial);
      expect(bodies.slice(before).some((b) => b.toString().includes(encodeURIComponent('+')))).toBe(true); // it did reach the server
      const part = normalize(blindPartOf(code.serial));
      for (const f of walk(s.dir)) expect(fs.readFileSync(f).toString('latin1').includes(part)).toBe(false);
      for (const l of s.logs) expect(normalize(l).includes(part)).toBe(false);
      expect(JSON.stringify(profile).includes(part)).toBe(false);
    });

    it('never echoes a pasted blind part back: a refused form keeps only the seller part', async () => {
      const code = alice.data.codes[2]!;
      const full = formatBlindCode(code.code, blindPartOf(code.serial));
      const agent = request.agent(base);
      const page = await agent.get('/').expect(200);
      const refused = await agent.post('/redeem').type('form').send({ code: full, email: 'not an address', _csrf: csrfOf(page.text) }).expect(400);
      expect(refused.text).toContain(`value="${code.code}"`);
      expect(normalize(refused.text).includes(normalize(blindPartOf(code.serial)))).toBe(false);
    });
  });
});
