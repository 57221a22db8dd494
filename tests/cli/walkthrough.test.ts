// The README walk-through through the real CLI, and every row of DESIGN.md's
// certification table with its exit code: init, three cards (two in one group),
// redemptions, files both ways between cards and dedicated profiles, verify.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DAY_MS, fromBase64, fromUtf8, openCardFile, openToCard, sealCardFile, sign, toBase64 } from '../../card/index.js';
import { openSeller, type Seller } from '../../distributor/seller/seller.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { grantCopyRight, issueChallenge, pairCards } from '../../distributor/seller/online.js';
import { revokeCode, signedStatus } from '../../distributor/seller/revoke.js';
import { challengeMessage, PAIR_KEY_CONTEXT } from '../../distributor/protocol.js';
import { ensureBuilt, PASS, sealcode, sealcodeJson, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-walk-'));
const data = path.join(dir, 'data');
const p = (name: string): string => path.join(dir, name);
const D = ['--data', data];

interface Issued {
  cardId: string;
  groupId: string;
  purchaserId: string;
}
interface CodeRow {
  serial: string;
  code: string;
  state: string;
}

let A: Issued, B: Issued, C: Issued;
let codes: CodeRow[];
const small = randomBytes(100_000);
const big = randomBytes(2_500_000 + 17); // several 1 MiB chunks

async function ok(args: string[]): Promise<string> {
  const r = await sealcode(args);
  expect(r.code, show(r)).toBe(0);
  return r.stdout;
}

async function expectExit(args: string[], code: number, out?: string): Promise<string> {
  const r = await sealcode(args);
  expect(r.code, show(r)).toBe(code);
  if (out) expect(fs.existsSync(out), `${out} must not exist`).toBe(false);
  // Never a stack trace, and never a leftover temporary file for that output.
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (out) expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith(`.${path.basename(out)}.`))).toEqual([]);
  return r.stderr + r.stdout;
}

const same = (file: string, content: Buffer): void => expect(fs.readFileSync(file).equals(content), `${file} content`).toBe(true);

async function withSeller<T>(fn: (s: Seller) => Promise<T> | T): Promise<T> {
  const s = await openSeller(data);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

beforeAll(async () => {
  ensureBuilt();
  fs.writeFileSync(p('small.txt'), small);
  fs.writeFileSync(p('big.bin'), big);
  await ok(['init', ...D]);
  A = (await sealcodeJson<Issued>(['admin', 'issue-card', '--name', 'Alice', '--email', 'alice@example.test', '--codes', '8', '--out', p('alice.card'), ...D])).json;
  [B, C] = await Promise.all([
    sealcodeJson<Issued>(['admin', 'issue-card', '--name', 'Bob', '--email', 'bob@example.test', '--group', A.groupId, '--out', p('bob.card'), ...D]).then((r) => r.json),
    sealcodeJson<Issued>(['admin', 'issue-card', '--name', 'Carol', '--email', 'carol@example.test', '--out', p('carol.card'), ...D]).then((r) => r.json),
  ]);
  codes = (await sealcodeJson<CodeRow[]>(['card', 'codes', '--card', p('alice.card')])).json;
  await ok(['admin', 'redeem', codes[0]!.code, '--email', 'dana@example.test', '--out', p('dana.json'), ...D]);
});

afterAll(async () => fs.rmSync(dir, { recursive: true, force: true }));

describe('README walk-through', () => {
  it('init is idempotent; three cards, two sharing a group', async () => {
    const again = (await sealcodeJson(['init', ...D])).json;
    expect(again.created).toBe(false);
    expect(B.groupId).toBe(A.groupId);
    expect(C.groupId).not.toBe(A.groupId);
    expect(A.cardId).toMatch(/^card_/);
    await withSeller(async (s) => {
      expect((await s.db.value('SELECT COUNT(*) FROM cards'))).toBe(3);
      expect((await s.db.value('SELECT COUNT(*) FROM purchasers'))).toBe(3);
    });
    expect(fs.statSync(p('alice.card')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(p('dana.json')).mode & 0o777).toBe(0o600);
  });

  it('card info and card codes describe the card, never its secrets', async () => {
    const { json: info } = await sealcodeJson(['card', 'info', '--card', p('alice.card')]);
    expect(info.cardId).toBe(A.cardId);
    expect(info.groupId).toBe(A.groupId);
    expect(JSON.stringify(info)).not.toMatch(/signSecret|kxSecret|groupKey/);
    expect(codes).toHaveLength(8);
    for (const c of codes) {
      expect(c.serial).toMatch(/^[0-9A-Z]{10}$/);
      expect(c.code).toMatch(/^SC-/);
      expect(c.state).toBe('unused');
    }
    const human = await ok(['card', 'codes', '--card', p('alice.card')]);
    expect(human).toContain(codes[1]!.code);
    await withSeller(async (s) => expect((await s.db.value('SELECT state FROM codes WHERE serial = ?', codes[0]!.serial))).toBe('already_used'));
  });

  it('sell-codes and import-codes: bought codes reach the card; a bundle for another card is refused', async () => {
    const sold = (await sealcodeJson(['admin', 'sell-codes', '--card', A.cardId, '--count', '2', '--amount', '500', '--out', p('codes.bundle'), ...D])).json;
    expect(sold.serials).toHaveLength(2);
    const before = fs.readFileSync(p('carol.card'));
    const refused = await expectExit(['card', 'import-codes', '--card', p('carol.card'), p('codes.bundle')], 3);
    expect(refused).toMatch(/not sealed to this card/);
    expect(fs.readFileSync(p('carol.card')).equals(before)).toBe(true);
    const imp = (await sealcodeJson(['card', 'import-codes', '--card', p('alice.card'), p('codes.bundle')])).json;
    expect(imp.imported).toEqual(sold.serials);
    const again = (await sealcodeJson(['card', 'import-codes', '--card', p('alice.card'), p('codes.bundle')])).json;
    expect(again.imported).toEqual([]);
    const now = (await sealcodeJson<CodeRow[]>(['card', 'codes', '--card', p('alice.card')])).json;
    expect(now.map((c) => c.serial)).toEqual([...codes.map((c) => c.serial), ...sold.serials]);
    await withSeller(async (s) =>
      expect((await s.db.get("SELECT quantity, amount_cents FROM payments WHERE card_id = ? AND kind = 'codes'", A.cardId))).toEqual({ quantity: 2, amount_cents: 500 }),
    );
  });
});

// Independent rows run concurrently: each is a handful of real processes.
describe.concurrent('certification table through the CLI', { timeout: 240_000 }, () => {
  it('card A → dedicated build for A\'s code: certified, decrypts (several chunks)', async () => {
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[0]!.serial, p('big.bin'), '-o', p('a2d.seal')]);
    const { run, json } = await sealcodeJson(['dedicated', 'decrypt', '--build', p('dana.json'), p('a2d.seal'), '-o', p('a2d.out')]);
    expect(run.code, show(run)).toBe(0);
    expect(json.certified).toBe(true);
    expect(json.sealedWith).toBe('card');
    expect(json.origin.id).toBe(A.cardId);
    expect(json.name).toBe('big.bin');
    same(p('a2d.out'), big);
    const v = (await sealcodeJson(['verify', ...D, p('a2d.seal')])).json;
    expect(v.certified).toBe(true);
    expect(v.sealedBy).toContain('Alice');
  });

  it('dedicated build → card A that issued its code: certified, decrypts; default output name', async () => {
    fs.copyFileSync(p('small.txt'), p('reply.txt'));
    await ok(['dedicated', 'encrypt', '--build', p('dana.json'), p('reply.txt')]);
    fs.rmSync(p('reply.txt'));
    const out = await ok(['card', 'decrypt', '--card', p('alice.card'), p('reply.txt.seal')]);
    expect(out).toMatch(/^Certified: reply.txt comes from the sealcode add-on of dana@example.test/m);
    expect(out).toMatch(/dedicated build/);
    same(p('reply.txt'), small);
    const v = (await sealcodeJson(['verify', '--issuer', path.join(data, 'issuer.pub'), p('reply.txt.seal')])).json;
    expect(v.certified).toBe(true);
    expect(v.sealedWith).toBe('dedicated');
    expect(v.addressees.join()).toContain(A.cardId);
  });

  it('card A → card B of the same group: certified, decrypts; card C of another group cannot', async () => {
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', p('small.txt'), '-o', p('a2b.seal')]);
    await ok(['card', 'decrypt', '--card', p('bob.card'), p('a2b.seal'), '-o', p('a2b.out')]);
    same(p('a2b.out'), small);
    expect(await expectExit(['card', 'decrypt', '--card', p('carol.card'), p('a2b.seal'), '-o', p('a2c.out')], 3, p('a2c.out'))).toMatch(/not sealed for this card/);
  });

  it('card A → card C holding a delivered pair key: certified, decrypts', async () => {
    const [aData, cData] = await Promise.all([openCardFile(fs.readFileSync(p('alice.card'), 'utf8'), PASS), openCardFile(fs.readFileSync(p('carol.card'), 'utf8'), PASS)]);
    const pair = await withSeller(async (s) => {
      const ch = await issueChallenge(s, 'pair', A.cardId);
      const msg = challengeMessage({ purpose: 'pair', subjectId: A.cardId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: { withCardId: C.cardId } });
      return await pairCards(s, { challengeId: ch.challengeId, cardId: A.cardId, withCardId: C.cardId, signature: toBase64(sign(fromBase64(aData.signSecret), msg)) });
    });
    for (const [d, sealed, file, peer] of [[aData, pair.forA, 'alice.card', C.cardId], [cData, pair.forB, 'carol.card', A.cardId]] as const) {
      const payload = JSON.parse(fromUtf8(openToCard(fromBase64(d.kxSecret), PAIR_KEY_CONTEXT, fromBase64(sealed))));
      d.pairs.push({ pairId: payload.pairId, peerCardId: peer, key: payload.key });
      // Atomically: other rows read these card files meanwhile.
      fs.writeFileSync(p(file + '.new'), await sealCardFile(d, PASS));
      fs.renameSync(p(file + '.new'), p(file));
    }
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', `pair:${pair.pairId}`, p('small.txt'), '-o', p('a2c-pair.seal')]);
    const { json } = await sealcodeJson(['card', 'decrypt', '--card', p('carol.card'), p('a2c-pair.seal'), '-o', p('a2c-pair.out')]);
    expect(json.certified).toBe(true);
    same(p('a2c-pair.out'), small);
    // Bob shares Alice's group but not the pair key.
    await expectExit(['card', 'decrypt', '--card', p('bob.card'), p('a2c-pair.seal'), '-o', p('a2b-pair.out')], 3, p('a2b-pair.out'));
    expect(await expectExit(['card', 'encrypt', '--card', p('bob.card'), '--to', 'pair:pair_NOPE', p('small.txt'), '-o', p('x.seal')], 2, p('x.seal'))).toMatch(/no pair key/);
  });

  it('card B of A\'s group → A\'s dedicated build given the ID: certified, decrypts', async () => {
    const r = (await sealcodeJson(['admin', 'redeem', codes[1]!.code, '--email', 'erin@example.test', '--id', 'alice-friends', '--out', p('erin.json'), ...D])).json;
    expect(r.id).toBe('alice-friends');
    await ok(['card', 'encrypt', '--card', p('bob.card'), '--to', 'alice-friends', p('small.txt'), '-o', p('b2id.seal')]);
    const { json } = await sealcodeJson(['dedicated', 'decrypt', '--build', p('erin.json'), p('b2id.seal'), '-o', p('b2id.out')]);
    expect(json.certified).toBe(true);
    expect(json.origin.id).toBe(B.cardId);
    same(p('b2id.out'), small);
    // and back: the ID build seals for its purchaser's ID, which Alice's card opens.
    await ok(['dedicated', 'encrypt', '--build', p('erin.json'), p('small.txt'), '-o', p('id2a.seal')]);
    await ok(['card', 'decrypt', '--card', p('alice.card'), p('id2a.seal'), '-o', p('id2a.out')]);
    same(p('id2a.out'), small);
  });

  it('card C of another group → A\'s dedicated build: not decryptable (3), no output', async () => {
    await ok(['card', 'encrypt', '--card', p('carol.card'), '--to', codes[0]!.serial, p('small.txt'), '-o', p('c2d.seal')]);
    expect(await expectExit(['dedicated', 'decrypt', '--build', p('dana.json'), p('c2d.seal'), '-o', p('c2d.out')], 3, p('c2d.out'))).toMatch(/not sealed for this card or build/);
  });

  it('a container for another code: 3, no output', async () => {
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[2]!.serial, p('small.txt'), '-o', p('other.seal')]);
    await expectExit(['dedicated', 'decrypt', '--build', p('dana.json'), p('other.seal'), '-o', p('other.out')], 3, p('other.out'));
  });

  it('dedicated → dedicated of the same code, neither by copy right: refused (3)', async () => {
    // A code that allows two redemptions gives two builds of one key, neither a copy of the other.
    await withSeller(async (s) => (await s.db.run('UPDATE codes SET copies_allowed = 2 WHERE serial = ?', codes[2]!.serial)));
    await ok(['admin', 'redeem', codes[2]!.code, '--email', 'f1@example.test', '--out', p('f1.json'), ...D]);
    await ok(['admin', 'redeem', codes[2]!.code, '--email', 'f2@example.test', '--out', p('f2.json'), ...D]);
    await ok(['dedicated', 'encrypt', '--build', p('f1.json'), p('small.txt'), '-o', p('f1f2.seal')]);
    expect(await expectExit(['dedicated', 'decrypt', '--build', p('f2.json'), p('f1f2.seal'), '-o', p('f1f2.out')], 3, p('f1f2.out'))).toMatch(/not from a purchaser/);
  });

  it('dedicated → dedicated when one came from a copy right of the other: certified, both ways', async () => {
    const dana = JSON.parse(fs.readFileSync(p('dana.json'), 'utf8'));
    const copy = await withSeller(async (s) => {
      const ch = await issueChallenge(s, 'copy-right', dana.buildId);
      const msg = challengeMessage({ purpose: 'copy-right', subjectId: dana.buildId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params: { copies: 1 } });
      return await grantCopyRight(s, { challengeId: ch.challengeId, buildId: dana.buildId, copies: 1, signature: toBase64(sign(fromBase64(dana.buildSecret), msg)) });
    });
    await ok(['admin', 'redeem', copy.code, '--email', 'gus@example.test', '--out', p('gus.json'), ...D]);
    await ok(['dedicated', 'encrypt', '--build', p('gus.json'), p('small.txt'), '-o', p('copy2d.seal')]);
    await ok(['dedicated', 'decrypt', '--build', p('dana.json'), p('copy2d.seal'), '-o', p('copy2d.out')]);
    same(p('copy2d.out'), small);
    await ok(['dedicated', 'encrypt', '--build', p('dana.json'), p('small.txt'), '-o', p('d2copy.seal')]);
    await ok(['dedicated', 'decrypt', '--build', p('gus.json'), p('d2copy.seal'), '-o', p('d2copy.out')]);
    same(p('d2copy.out'), small);
  });

  it('a build receiving data signed with its own build key (an illegal copy): refused (3)', async () => {
    await ok(['dedicated', 'encrypt', '--build', p('dana.json'), p('small.txt'), '-o', p('self.seal')]);
    expect(await expectExit(['dedicated', 'decrypt', '--build', p('dana.json'), p('self.seal'), '-o', p('self.out')], 3, p('self.out'))).toMatch(/illegal copy/);
  });

  it('an expired dedicated profile: refused with the reason (3), both ways', async () => {
    const g = await withSeller(async (s) => await redeemOffline(s, { code: codes[3]!.code, email: 'old@example.test', now: Date.now() - 400 * DAY_MS }));
    fs.writeFileSync(p('old.json'), JSON.stringify(g.profile));
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[3]!.serial, p('small.txt'), '-o', p('a2old.seal')]);
    expect(await expectExit(['dedicated', 'decrypt', '--build', p('old.json'), p('a2old.seal'), '-o', p('a2old.out')], 3, p('a2old.out'))).toMatch(/expired/);
    expect(await expectExit(['dedicated', 'encrypt', '--build', p('old.json'), p('small.txt'), '-o', p('old2a.seal')], 3, p('old2a.seal'))).toMatch(/expired/);
  });

  it('a revoked code: verify with the status list refuses with the reason (3), from a file and a URL', async () => {
    await ok(['admin', 'redeem', codes[4]!.code, '--email', 'hal@example.test', '--out', p('hal.json'), ...D]);
    await ok(['dedicated', 'encrypt', '--build', p('hal.json'), p('small.txt'), '-o', p('hal.seal')]);
    await ok(['verify', ...D, p('hal.seal')]);
    const status = await withSeller(async (s) => {
      await revokeCode(s, codes[4]!.serial);
      return await signedStatus(s);
    });
    fs.writeFileSync(p('status.json'), JSON.stringify(status));
    const { run, json } = await sealcodeJson(['verify', ...D, '--status', p('status.json'), p('hal.seal')]);
    expect(run.code, show(run)).toBe(3);
    expect(json.certified).toBe(false);
    expect(json.code).toBe('REVOKED');
    expect(json.reason).toMatch(/revoked/);
    const server = http.createServer((_q, res) => res.end(JSON.stringify(status)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
      expect((await sealcode(['verify', ...D, '--status', url, p('hal.seal')])).code).toBe(3);
    } finally {
      server.close();
    }
    // A status list not signed by the issuer is itself tampered.
    fs.writeFileSync(p('forged.json'), JSON.stringify({ ...status, sig: toBase64(new Uint8Array(64)) }));
    await expectExit(['verify', ...D, '--status', p('forged.json'), p('hal.seal')], 4);
  });

  it('any byte changed (header, payload, trailer) or truncated: tampered (4), no output', async () => {
    await Promise.all([
      ok(['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', p('small.txt'), '-o', p('t-small.seal')]),
      ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[0]!.serial, p('big.bin'), '-o', p('t-big.seal')]),
    ]);
    const good = fs.readFileSync(p('t-small.seal'));
    const cases: [string, Buffer][] = [];
    for (const at of [9, 200, Math.floor(good.length / 2), good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x01;
      cases.push([`flip${at}`, bad]);
    }
    cases.push(['trunc', good.subarray(0, good.length - 100)]);
    // A multi-chunk container cut at half.
    const b = fs.readFileSync(p('t-big.seal'));
    fs.writeFileSync(p('half.seal'), b.subarray(0, b.length >> 1));
    await Promise.all([
      ...cases.flatMap(([name, bytes]) => {
        fs.writeFileSync(p(`${name}.seal`), bytes);
        return [
          expectExit(['card', 'decrypt', '--card', p('bob.card'), p(`${name}.seal`), '-o', p(`${name}.out`)], 4, p(`${name}.out`)),
          expectExit(['verify', ...D, p(`${name}.seal`)], 4),
        ];
      }),
      expectExit(['dedicated', 'decrypt', '--build', p('dana.json'), p('half.seal'), '-o', p('half.out')], 4, p('half.out')),
    ]);
  });

  it('signature-only mode (Fig. 6): readable, certified, and any change is tampering', async () => {
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--sign-only', p('small.txt'), '-o', p('signed.seal')]);
    const v = (await sealcodeJson(['verify', ...D, p('signed.seal')])).json;
    expect(v.certified).toBe(true);
    expect(v.signOnly).toBe(true);
    await ok(['card', 'decrypt', '--card', p('bob.card'), p('signed.seal'), '-o', p('signed.out')]);
    same(p('signed.out'), small);
    const bad = fs.readFileSync(p('signed.seal'));
    bad[bad.length - 5000]! ^= 0x40;
    fs.writeFileSync(p('signed-bad.seal'), bad);
    await expectExit(['verify', ...D, p('signed-bad.seal')], 4);
    await expectExit(['card', 'decrypt', '--card', p('bob.card'), p('signed-bad.seal'), '-o', p('signed-bad.out')], 4, p('signed-bad.out'));
  });
});

// After the table: uses the builds it made.
describe('after the table', () => {
  it('several recipients in one container: a serial, an ID and the group', async () => {
    await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[0]!.serial, '--to', 'alice-friends', '--to', 'group', p('small.txt'), '-o', p('multi.seal')]);
    const v = (await sealcodeJson(['verify', ...D, p('multi.seal')])).json;
    expect(v.recipients.map((r: { kind: string }) => r.kind)).toEqual(['code', 'id', 'group']);
    await ok(['dedicated', 'decrypt', '--build', p('dana.json'), p('multi.seal'), '-o', p('multi-d.out')]);
    await ok(['dedicated', 'decrypt', '--build', p('erin.json'), p('multi.seal'), '-o', p('multi-e.out')]);
    await ok(['card', 'decrypt', '--card', p('bob.card'), p('multi.seal'), '-o', p('multi-b.out')]);
    same(p('multi-e.out'), small);
  });

  it('leaves no temporary files behind', async () => {
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
  });
});
