// `sealcode card sync` and the card host's `sync`: the card file's code states refreshed
// from a real distributor (the app over HTTP, a real SQLite file). A code redeemed there
// reads already_used in the card file; a code handed over stays `given`; a replayed,
// stale, forged or misdirected request is refused; offline, the file is left as it was;
// the host and the CLI never overwrite each other's writes (the card file's lock).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { parseRequest } from '../../card/host-protocol.js';
import { fromBase64, openCardFile, sealCardFile, sign, toBase64, type CardData } from '../../card/index.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { revokeCard, revokeCode } from '../../distributor/seller/revoke.js';
import { challengeMessage } from '../../distributor/protocol.js';
import { withCardFileLock } from '../../cli/lock-file.js';
import { openCardText } from '../../cli/card-file.js';
import { makeServer, type TestServer } from '../distributor/helpers.js';
import { startHost } from '../addon/support/host-process.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../support/softhsm.js';
import { PASS, ensureBuilt, sealcode, sealcodeJson, show } from './harness.js';

let s: TestServer;
let server: Server;
let url: string;
let alice: IssuedCard;
let bob: IssuedCard;
let dir: string;

const cardFile = (name: string) => path.join(dir, name);
const readCard = async (f: string): Promise<CardData> => openCardFile(fs.readFileSync(f, 'utf8'), PASS);
const stateOf = (d: CardData, serial: string) => d.codes.find((c) => c.serial === serial);

/** Alice's card file as she holds it: the distributor's URL in it, code 1 handed to Bob. */
async function writeAliceCard(f: string, o: { distributorUrl?: string } = {}): Promise<void> {
  const data: CardData = structuredClone(alice.data);
  if (o.distributorUrl) data.distributorUrl = o.distributorUrl;
  else delete data.distributorUrl;
  data.codes[1]!.state = 'given';
  data.codes[1]!.givenTo = 'bob@example.test';
  fs.writeFileSync(f, await sealCardFile(data, PASS, 1 << 14), { mode: 0o600 });
}

beforeAll(async () => {
  ensureBuilt();
  s = await makeServer();
  dir = path.join(s.dir, 'cards');
  fs.mkdirSync(dir);
  alice = await issueCard(s.seller, { name: 'Alice', email: 'alice@example.test', codes: 4 });
  bob = await issueCard(s.seller, { name: 'Bob', email: 'bob@example.test', codes: 1 });
  server = s.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Dana redeems Alice's code 0 at the distributor: it is already_used there.
  await redeemOffline(s.seller, { code: alice.data.codes[0]!.code, email: 'dana@example.test' });
}, 60_000);
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await s?.close();
});

/** A fresh challenge for Alice's card, answered with `key` for `purpose` (the wire body). */
async function answered(key: Uint8Array, o: { purpose?: 'code-states' | 'statement'; subject?: string } = {}) {
  const purpose = o.purpose ?? 'code-states';
  const subjectId = o.subject ?? alice.cardId;
  const ch = (await request(url).post('/api/v1/challenge').send({ purpose, subjectId }).expect(200)).body;
  const signature = toBase64(sign(key, challengeMessage({ purpose, subjectId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: {} })));
  return { challengeId: ch.challengeId as string, subjectId, signature };
}
const aliceKey = () => fromBase64(alice.data.signSecret);

describe('sealcode card sync', () => {
  it("writes the distributor's states into the card file; a code handed over stays given; nothing secret is logged", async () => {
    const f = cardFile('alice.card');
    await writeAliceCard(f, { distributorUrl: `${url}/` });
    const logsBefore = s.logs.length;
    const { run, json } = await sealcodeJson(['card', 'sync', '--card', f]);
    expect(run.code, show(run)).toBe(0);
    const [c0, c1, c2] = alice.data.codes;
    expect(json.changed).toEqual([{ serial: c0!.serial, from: 'unused', to: 'already_used' }]);
    const d = await readCard(f);
    expect(stateOf(d, c0!.serial)).toMatchObject({ state: 'already_used' });
    expect(stateOf(d, c1!.serial)).toMatchObject({ state: 'given', givenTo: 'bob@example.test' });
    expect(stateOf(d, c2!.serial)).toMatchObject({ state: 'unused' });
    // Re-sealed at the cost it had, still mode 0600; the lock is gone.
    expect(JSON.parse(fs.readFileSync(f, 'utf8')).kdf.N).toBe(1 << 14);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(`${f}.lock`)).toBe(false);
    const logged = s.logs.slice(logsBefore).join('');
    for (const c of alice.data.codes) expect(logged).not.toContain(c.code.slice(3));
    // Nothing new: nothing written.
    const bytes = fs.readFileSync(f);
    const again = await sealcodeJson(['card', 'sync', '--card', f]);
    expect(again.json.changed).toEqual([]);
    expect(fs.readFileSync(f).equals(bytes)).toBe(true);
    // The human form names what changed.
    await writeAliceCard(f, { distributorUrl: url });
    const human = await sealcode(['card', 'sync', '--card', f]);
    expect(human.stdout).toContain(`${c0!.serial}  unused -> already_used`);
  });

  it('a given code the distributor saw redeemed becomes already_used and keeps whom it went to', async () => {
    await redeemOffline(s.seller, { code: alice.data.codes[1]!.code, email: 'bob@example.test' });
    const f = cardFile('alice-given.card');
    await writeAliceCard(f, { distributorUrl: url });
    const r = await sealcodeJson(['card', 'sync', '--card', f]);
    expect(r.run.code, show(r.run)).toBe(0);
    expect(stateOf(await readCard(f), alice.data.codes[1]!.serial)).toMatchObject({ state: 'already_used', givenTo: 'bob@example.test' });
  });

  it('offline: a clear error, exit 1, and the card file byte for byte as it was', async () => {
    const f = cardFile('alice-offline.card');
    await writeAliceCard(f);
    const closed = await new Promise<number>((res) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => res(p));
      });
    });
    const before = fs.readFileSync(f);
    const r = await sealcode(['card', 'sync', '--card', f, '--distributor', `http://127.0.0.1:${closed}`]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the distributor at http:\/\/127\.0\.0\.1:\d+.*the card file is unchanged/);
    expect(fs.readFileSync(f).equals(before)).toBe(true);
    expect(fs.existsSync(`${f}.lock`)).toBe(false);
  });

  it('a distributor answering for another card, or with a state it cannot have, is refused and changes nothing', async () => {
    const f = cardFile('alice-hostile.card');
    await writeAliceCard(f);
    const before = fs.readFileSync(f);
    const serial = alice.data.codes[2]!.serial;
    const answers = [
      { cardId: bob.cardId, at: Date.now(), codes: [{ serial, state: 'already_used' }] },
      { cardId: alice.cardId, at: Date.now(), codes: [{ serial, state: 'stolen' }] },
      { cardId: alice.cardId, at: Date.now(), codes: 'all used' },
    ];
    for (const answer of answers) {
      // A loopback stand-in for a distributor that misbehaves: a well-formed challenge, then the answer.
      const hostile = http.createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.url === '/api/v1/challenge' ? { challengeId: 'chl_x123', nonce: toBase64(new Uint8Array(32)), expiresAt: Date.now() + 60_000 } : answer));
      });
      await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
      const r = await sealcode(['card', 'sync', '--card', f, '--distributor', `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`]);
      await new Promise((res) => hostile.close(res));
      expect(r.code, show(r)).toBe(4);
      expect(r.stderr).toMatch(/the distributor answered (with something unexpected|for another card)/);
      expect(fs.readFileSync(f).equals(before)).toBe(true);
    }
  });

  it('refuses to guess a distributor, or to speak plain http to another machine', async () => {
    const f = cardFile('alice-nourl.card');
    await writeAliceCard(f);
    const none = await sealcode(['card', 'sync', '--card', f]);
    expect(none.code, show(none)).toBe(2);
    expect(none.stderr).toContain('this card names no distributor: give --distributor URL');
    const plain = await sealcode(['card', 'sync', '--card', f, '--distributor', 'http://distributor.example.test']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/over https/);
  });

  it('waits for the card file lock held by another writer, and takes over one left by a dead process', async () => {
    const f = cardFile('alice-locked.card');
    await writeAliceCard(f, { distributorUrl: url });
    const before = fs.readFileSync(f);
    let sync: ReturnType<typeof sealcode> | undefined;
    await withCardFileLock(f, async () => {
      sync = sealcode(['card', 'sync', '--card', f, '--json']);
      // Long enough for the CLI to open the card and ask the distributor; it must not write.
      await new Promise((r) => setTimeout(r, 2500));
      expect(fs.readFileSync(f).equals(before)).toBe(true);
    });
    const r = await sync!;
    expect(r.code, show(r)).toBe(0);
    expect(stateOf(await readCard(f), alice.data.codes[0]!.serial)!.state).toBe('already_used');
    // A lock whose process is gone (a crash) does not block forever.
    const g = cardFile('alice-stale.card');
    await writeAliceCard(g, { distributorUrl: url });
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('close', r));
    fs.writeFileSync(`${g}.lock`, String(dead.pid));
    const r2 = await sealcode(['card', 'sync', '--card', g]);
    expect(r2.code, show(r2)).toBe(0);
    expect(fs.existsSync(`${g}.lock`)).toBe(false);
  });
});

describe('two writers of one card file', () => {
  it('each change is applied to the newest file: neither undoes the other, in either order', async () => {
    const f = cardFile('alice-two.card');
    await writeAliceCard(f);
    const open = async () => openCardText(f, fs.readFileSync(f, 'utf8'), async () => PASS);
    const [a, b] = [await open(), await open()];
    await a.update((d) => {
      d.codes[2]!.state = 'given';
      d.codes[2]!.givenTo = 'gil@example.test';
      return true;
    });
    // b opened the file before a wrote it; its change lands on a's.
    await b.update((d) => {
      d.pairs.push({ pairId: 'pair_two', peerCardId: bob.cardId, key: toBase64(new Uint8Array(32)) });
      return true;
    });
    await a.update((d) => {
      d.codes[3]!.state = 'given';
      d.codes[3]!.givenTo = 'hal@example.test';
      return true;
    });
    const d = await readCard(f);
    expect(d.codes.slice(2).map((c) => c.givenTo)).toEqual(['gil@example.test', 'hal@example.test']);
    expect(d.pairs.map((p) => p.pairId)).toEqual(['pair_two']);
    // An unchanged card is not rewritten.
    const bytes = fs.readFileSync(f);
    expect(await b.update(() => false)).toBe(false);
    expect(fs.readFileSync(f).equals(bytes)).toBe(true);
  });
});

describe('the code-states endpoint', () => {
  const post = (body: object) => request(url).post('/api/v1/code-states').send(body);

  it('answers serials and states only, for the card that signed', async () => {
    const r = await post(await answered(aliceKey())).expect(200);
    expect(r.body.cardId).toBe(alice.cardId);
    expect(r.body.codes.map((c: { serial: string }) => c.serial).sort()).toEqual(alice.data.codes.map((c) => c.serial).sort());
    expect(Object.keys(r.body.codes[0]).sort()).toEqual(['serial', 'state']);
    expect(JSON.stringify(r.body)).not.toContain(alice.data.codes[2]!.code.slice(3));
  });

  it('refuses a replayed answer, a stale challenge, a forged signature, another purpose and another card', async () => {
    const ok = await answered(aliceKey());
    await post(ok).expect(200);
    expect((await post(ok).expect(403)).body.error.code).toBe('REFUSED');
    const stale = await answered(aliceKey());
    await s.seller.db.run('UPDATE challenges SET expires_at = ? WHERE id = ?', Date.now() - 1000, stale.challengeId);
    expect((await post(stale)).body.error.code).toBe('EXPIRED');
    // Bob's key answering Alice's challenge; an answer to a statement challenge; Bob's card claimed with Alice's key.
    expect((await post(await answered(fromBase64(bob.data.signSecret)))).body.error.code).toBe('REFUSED');
    expect((await post(await answered(aliceKey(), { purpose: 'statement' }))).body.error.code).toBe('REFUSED');
    expect((await post(await answered(aliceKey(), { subject: bob.cardId }))).body.error.code).toBe('REFUSED');
    const tampered = await answered(aliceKey());
    const sig = fromBase64(tampered.signature);
    sig[0]! ^= 1;
    expect((await post({ ...tampered, signature: toBase64(sig) })).body.error.code).toBe('REFUSED');
    expect((await post({ ...(await answered(aliceKey())), extra: 1 }).expect(400)).body.error.code).toBe('USAGE');
  });

  it('refuses a revoked card', async () => {
    const carol = await issueCard(s.seller, { name: 'Carol', email: 'carol@example.test', codes: 1 });
    await revokeCard(s.seller, carol.cardId);
    const body = await answered(fromBase64(carol.data.signSecret), { subject: carol.cardId });
    expect((await post(body)).body.error.code).toBe('REVOKED');
  });
});

describe("the card host's sync", () => {
  it('a sync waiting on a distributor that does not answer holds up no other request', async () => {
    const f = cardFile('alice-slow.card');
    await writeAliceCard(f);
    // Accepts connections and never answers, as a distributor behind a dead link.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((c) => void sockets.add(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const host = startHost(f);
    try {
      await host.call('unlock', { passphrase: PASS, minutes: 5 });
      const order: string[] = [];
      const sync = host.call('sync', { distributor: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` }).then(
        () => order.push('sync'),
        () => order.push('sync failed'),
      );
      while (!sockets.size) await new Promise((r) => setTimeout(r, 20));
      await host.call('sign', { digest: toBase64(new Uint8Array(32)) });
      await host.call('info');
      order.push('sign and info');
      // Only now does the distributor's link die.
      for (const c of sockets) c.destroy();
      await sync;
      expect(order).toEqual(['sign and info', 'sync failed']);
    } finally {
      host.proc.stdin.end();
      await new Promise((r) => silent.close(r));
    }
  });

  it("validates the sync request's distributor field", () => {
    expect(parseRequest({ id: 1, op: 'sync' })).toEqual({ id: 1, op: 'sync' });
    expect(parseRequest({ id: 1, op: 'sync', distributor: 'https://d.example.test' })).toMatchObject({ distributor: 'https://d.example.test' });
    expect(() => parseRequest({ id: 1, op: 'sync', distributor: 42 })).toThrow(/distributor must be a string/);
    expect(() => parseRequest({ id: 1, op: 'sync', distributor: 'x'.repeat(3000) })).toThrow(/distributor/);
  });

  it('refreshes from the distributor the card names, only while unlocked; a code handed over after a CLI sync keeps that sync', async () => {
    const f = cardFile('alice-host.card');
    await writeAliceCard(f, { distributorUrl: url });
    const host = startHost(f);
    try {
      await expect(host.call('sync')).rejects.toMatchObject({ code: 'LOCKED' });
      await host.call('unlock', { passphrase: PASS, minutes: 5 });
      const r = await host.call('sync');
      expect(r.distributor).toBe(url);
      expect(r.changed.map((c) => c.serial)).toContain(alice.data.codes[0]!.serial);
      const codes = (await host.call('codes')).codes;
      expect(codes[0]).toMatchObject({ state: 'already_used' });
      // Someone redeems code 2; the CLI refreshes the file while the host holds it open.
      await redeemOffline(s.seller, { code: alice.data.codes[2]!.code, email: 'erin@example.test' });
      const cli = await sealcode(['card', 'sync', '--card', f]);
      expect(cli.code, show(cli)).toBe(0);
      // The host hands over code 3: its write starts from the file the CLI wrote, losing nothing.
      const gave = await host.call('give', { serial: alice.data.codes[3]!.serial, to: 'frank@example.test' });
      expect(gave.changed).toBe(true);
      const d = await readCard(f);
      expect([0, 2, 3].map((i) => d.codes[i]!.state)).toEqual(['already_used', 'already_used', 'given']);
      expect(d.codes[3]!.givenTo).toBe('frank@example.test');
      // Offline: the host says so and the file stays.
      const before = fs.readFileSync(f);
      await expect(host.call('sync', { distributor: 'http://127.0.0.1:9' })).rejects.toThrow(/cannot reach the distributor/);
      expect(fs.readFileSync(f).equals(before)).toBe(true);
    } finally {
      host.proc.stdin.end();
    }
  });
});

describe('a card on a PKCS#11 token (SoftHSM)', () => {
  it('signs the challenge inside the token and re-seals its file under the token key', async () => {
    const hsm = startSoftHsm();
    try {
      const PIN = '123456';
      hsm.initToken('sync', PIN);
      const env = { ...hsm.env, SEALCODE_PIN: PIN };
      const f = cardFile('token.card');
      // Issued by the same seller, whose database the running app serves.
      const issued = await sealcodeJson(['admin', 'issue-card', '--data', s.dir, '--name', 'Tia', '--email', 'tia@example.test', '--codes', '2', '--out', f, '--token-module', SOFTHSM_MODULE, '--token-label', 'sync'], { env });
      expect(issued.run.code, show(issued.run)).toBe(0);
      const code = (await s.seller.db.get<{ serial: string }>('SELECT serial FROM codes WHERE card_id = ? ORDER BY serial LIMIT 1', issued.json.cardId))!;
      await revokeCode(s.seller, code.serial);
      const r = await sealcodeJson(['card', 'sync', '--card', f, '--distributor', url], { env });
      expect(r.run.code, show(r.run)).toBe(0);
      expect(r.json.changed).toEqual([{ serial: code.serial, from: 'unused', to: 'revoked' }]);
      const codes = await sealcodeJson(['card', 'codes', '--card', f], { env });
      expect(codes.json.find((c: { serial: string }) => c.serial === code.serial).state).toBe('revoked');
    } finally {
      hsm.cleanup();
    }
  }, 60_000);
});
