// Cards whose secrets live in a PKCS#11 token (SoftHSM2, a private SOFTHSM2_CONF per run):
// the certification table with token-held keys, the CLI walk-through with a card issued
// onto a token, the token's own refusal to give out any secret, wrong and locked PINs,
// a missing module or token, and the card host unlocking with the PIN.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkcs11js from 'pkcs11js';
import { FrameDecoder, encodeFrame } from '../../card/host-protocol.js';
import { decodeCert, fromBase64, toBase64, toHex, verify, type CardCert } from '../../card/index.js';
import { publicCardData } from '../../card/tokencard.js';
import { partyOf, openCardText } from '../../cli/card-file.js';
import { Token } from '../../cli/token/pkcs11.js';
import { cardObjects, importCardKeys, storeCardSecrets, tokenKeyOps } from '../../cli/token/card-token.js';
import { openSeller } from '../../distributor/seller/seller.js';
import { certificationTable } from '../support/certification-table.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../support/softhsm.js';
import { ROOT, ensureBuilt, sealcode, sealcodeJson, show, type Run } from './harness.js';

const hsm = startSoftHsm();
const PIN = '1234';
const SO_PIN = '87654321';
hsm.initToken('table', PIN);
hsm.initToken('alice', PIN);

// The table's cards A, B, C with their keys moved into the token: every signature,
// agreement and PRF(Ka, ·) of the table's rows is then the token's.
let tableToken: Token | undefined;
certificationTable('certification table, cards in a token', async (w) => {
  const t = (tableToken = Token.open({ module: SOFTHSM_MODULE, label: 'table' }, PIN));
  const inToken = (c: typeof w.A) => {
    const id = c.data.cardId;
    importCardKeys(t, id, { signSecret: fromBase64(c.data.signSecret), kxSecret: fromBase64(c.data.kxSecret) });
    storeCardSecrets(t, id, fromBase64(c.data.groupKey));
    return partyOf(publicCardData(c.data), tokenKeyOps(t, id));
  };
  return { A: inToken(w.A), B: inToken(w.B), C: inToken(w.C) };
});

describe('a card issued onto a token, from the CLI', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-token-'));
  const p = (f: string) => path.join(dir, f);
  const data = p('data');
  const env = { ...hsm.env, SEALCODE_PIN: PIN };
  const outputs: Run[] = [];
  const run = async (args: string[], e: Record<string, string> = {}) => {
    const r = await sealcode(args, { env: { ...env, ...e }, cwd: dir });
    outputs.push(r);
    return r;
  };
  const runJson = async (args: string[], e: Record<string, string> = {}) => {
    const r = await sealcodeJson(args, { env: { ...env, ...e }, cwd: dir });
    outputs.push(r.run);
    return r;
  };
  let alice: { cardId: string; groupId: string };
  let groupKey: Uint8Array;

  beforeAll(async () => {
    tableToken?.close();
    ensureBuilt();
    expect((await run(['init', '--data', data])).code).toBe(0);
    const a = await runJson(['admin', 'issue-card', '--data', data, '--name', 'Alice', '--email', 'alice@example.test', '--codes', '4', '--out', p('alice.card'), '--token-module', SOFTHSM_MODULE, '--token-label', 'alice']);
    expect(a.run.code, show(a.run)).toBe(0);
    alice = a.json;
    const b = await run(['admin', 'issue-card', '--data', data, '--name', 'Bob', '--email', 'bob@example.test', '--group', alice.groupId, '--out', p('bob.card')]);
    expect(b.code, show(b)).toBe(0);
    const s = await openSeller(data);
    groupKey = await s.groupKey(alice.groupId);
    await s.close();
    fs.writeFileSync(p('m.txt'), 'for Dana, from Alice');
    fs.writeFileSync(p('r.txt'), 'for Alice, from Dana');
    fs.writeFileSync(p('so.pin'), SO_PIN + '\n');
  }, 120_000);
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    hsm.cleanup();
  });

  it('keeps every secret in the token: sensitive, not extractable, and the token refuses to read any value', async () => {
    const info = await runJson(['card', 'token-info', '--card', p('alice.card')]);
    expect(info.run.code, show(info.run)).toBe(0);
    expect(info.json.objects.map((o: { role: string }) => o.role)).toEqual(['sign', 'kx', 'group', 'file']);
    for (const o of info.json.objects) expect(o).toMatchObject({ sensitive: true, extractable: false, private: true, valueRead: 'refused (CKR_ATTRIBUTE_SENSITIVE)' });
    // Generated inside, never anything else: the individual keys.
    for (const o of info.json.objects.filter((x: { role: string }) => x.role === 'sign' || x.role === 'kx'))
      expect(o).toMatchObject({ alwaysSensitive: true, neverExtractable: true });
    // The same, asked of the token directly rather than through our command.
    const t = Token.open({ module: SOFTHSM_MODULE, label: 'alice' }, PIN);
    try {
      const objs = cardObjects(t, alice.cardId);
      expect(objs).toHaveLength(4);
      for (const h of objs) {
        expect(t.tryAttr(h, pkcs11js.CKA_VALUE)).toEqual({ refused: 'CKR_ATTRIBUTE_SENSITIVE' });
        expect(() => t['p'].C_SetAttributeValue(t.session, h, [{ type: pkcs11js.CKA_SENSITIVE, value: false }])).toThrow(/READ_ONLY|ATTRIBUTE/);
      }
    } finally {
      t.close();
    }
  });

  it('writes a card file that holds no secret, sealed under a key only the token makes', async () => {
    const text = fs.readFileSync(p('alice.card'), 'utf8');
    const t = Token.open({ module: SOFTHSM_MODULE, label: 'alice' }, PIN);
    t.close();
    const opened = await openCardText(p('alice.card'), text, async () => PIN);
    try {
      expect(opened.keys.custody).toBe('token');
      expect(opened.data).toMatchObject({ signSecret: '', kxSecret: '', groupKey: '', moduleKind: 'pkcs11' });
      expect(opened.data.codes).toHaveLength(4);
    } finally {
      opened.close();
    }
    expect(text).not.toContain(opened.data.codes[0]!.code);
  });

  it('runs the walk-through: codes, redemption, both directions, group, ID mode, bought codes', async () => {
    const codes = (await runJson(['card', 'codes', '--card', p('alice.card')])).json as { serial: string; code: string }[];
    expect(codes).toHaveLength(4);
    const [c1, c2] = codes;
    expect((await run(['admin', 'redeem', '--data', data, c1!.code, '--email', 'dana@example.test', '--out', p('dana.json')])).code).toBe(0);
    let r = await run(['card', 'encrypt', '--card', p('alice.card'), '--to', c1!.serial, 'm.txt', '-o', 'm.seal']);
    expect(r.code, show(r)).toBe(0);
    r = await run(['dedicated', 'decrypt', '--build', p('dana.json'), 'm.seal', '-o', 'm.out']);
    expect(r.code, show(r)).toBe(0);
    expect(fs.readFileSync(p('m.out'), 'utf8')).toBe('for Dana, from Alice');
    expect((await run(['dedicated', 'encrypt', '--build', p('dana.json'), 'r.txt', '-o', 'r.seal'])).code).toBe(0);
    r = await run(['card', 'decrypt', '--card', p('alice.card'), 'r.seal', '-o', 'r.out']);
    expect(r.code, show(r)).toBe(0);
    expect(fs.readFileSync(p('r.out'), 'utf8')).toBe('for Alice, from Dana');
    expect((await run(['verify', '--data', data, 'm.seal'])).code).toBe(0);

    // Group, both ways with Bob's passphrase card.
    expect((await run(['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', 'm.txt', '-o', 'g.seal'])).code).toBe(0);
    r = await run(['card', 'decrypt', '--card', p('bob.card'), 'g.seal', '-o', 'g.out']);
    expect(r.code, show(r)).toBe(0);
    expect((await run(['card', 'encrypt', '--card', p('bob.card'), '--to', 'group', 'r.txt', '-o', 'h.seal'])).code).toBe(0);
    expect((await run(['card', 'decrypt', '--card', p('alice.card'), 'h.seal', '-o', 'h.out'])).code).toBe(0);
    expect(fs.readFileSync(p('h.out'), 'utf8')).toBe('for Alice, from Dana');

    // ID mode: the token card seals for an ID a code was redeemed with.
    expect((await run(['admin', 'redeem', '--data', data, c2!.code, '--email', 'erin@example.test', '--id', 'alice-friends', '--out', p('erin.json')])).code).toBe(0);
    expect((await run(['card', 'encrypt', '--card', p('alice.card'), '--to', 'alice-friends', 'm.txt', '-o', 'i.seal'])).code).toBe(0);
    r = await run(['dedicated', 'decrypt', '--build', p('erin.json'), 'i.seal', '-o', 'i.out']);
    expect(r.code, show(r)).toBe(0);

    // Codes bought for the card arrive sealed to its X25519 key, which is in the token.
    expect((await run(['admin', 'sell-codes', '--data', data, '--card', alice.cardId, '--count', '2', '--out', p('bundle.seal')])).code).toBe(0);
    r = await run(['card', 'import-codes', '--card', p('alice.card'), 'bundle.seal']);
    expect(r.code, show(r)).toBe(0);
    expect(((await runJson(['card', 'codes', '--card', p('alice.card')])).json as unknown[]).length).toBe(6);
  }, 120_000);

  it('refuses a wrong PIN clearly, writes nothing, and locks after five in a row until the security officer resets it', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await run(['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', 'm.txt', '-o', 'wrong.seal'], { SEALCODE_PIN: '0000' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(i < 5 ? new RegExp(`wrong PIN for the token "alice" \\(${5 - i} tr(y|ies) left`) : /sealcode has now locked it/);
      expect(fs.existsSync(p('wrong.seal'))).toBe(false);
    }
    const locked = await run(['card', 'info', '--card', p('alice.card')]);
    expect(locked.code).toBe(3);
    expect(locked.stderr).toMatch(/locked after 5 wrong PINs/);
    const bad = await run(['card', 'token-unlock', '--card', p('alice.card'), '--so-pin-file', p('r.txt')]);
    expect(bad.stderr).toMatch(/wrong security-officer PIN/);
    expect((await run(['card', 'token-unlock', '--card', p('alice.card'), '--so-pin-file', p('so.pin')])).code).toBe(0);
    expect((await run(['card', 'info', '--card', p('alice.card')])).code).toBe(0);
  }, 60_000);

  it('says clearly when the module or the token is missing, and writes nothing', async () => {
    const text = fs.readFileSync(p('alice.card'), 'utf8');
    fs.writeFileSync(p('nomodule.card'), text.replace(SOFTHSM_MODULE, '/nonexistent/libpkcs11.so'));
    let r = await run(['card', 'encrypt', '--card', p('nomodule.card'), '--to', 'group', 'm.txt', '-o', 'x.seal']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PKCS#11 module \/nonexistent\/libpkcs11.so is not there/);
    // The token pulled out: a SoftHSM configuration whose token folder is empty.
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(path.join(empty, 'tokens'), { recursive: true });
    fs.writeFileSync(path.join(empty, 'hsm.conf'), `directories.tokendir = ${path.join(empty, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const gone = { SOFTHSM2_CONF: path.join(empty, 'hsm.conf') };
    r = await run(['card', 'decrypt', '--card', p('alice.card'), 'm.seal', '-o', 'y.out'], gone);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no token labelled "alice" .* is it inserted\?/);
    const s = await openSeller(data);
    const cards = (await s.db.value('SELECT COUNT(*) FROM cards'));
    await s.close();
    r = await run(['admin', 'issue-card', '--data', data, '--name', 'Zoe', '--email', 'zoe@example.test', '--out', p('zoe.card'), '--token-module', SOFTHSM_MODULE, '--token-label', 'alice'], gone);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no token labelled "alice"/);
    const s2 = await openSeller(data);
    expect((await s2.db.value('SELECT COUNT(*) FROM cards'))).toBe(cards);
    await s2.close();
    for (const f of ['x.seal', 'y.out', 'zoe.card']) expect(fs.existsSync(p(f))).toBe(false);
  }, 60_000);

  it('serves the card host with the PIN where a card file takes its passphrase', async () => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'sealcode.js'), 'card', 'host', '--card', p('alice.card')], { env: { ...process.env, ...hsm.env } });
    const dec = new FrameDecoder();
    const replies: { id: number; ok: boolean; result?: any; error?: { code: string; message: string } }[] = [];
    proc.stdout.on('data', (b: Buffer) => replies.push(...(dec.push(new Uint8Array(b)) as typeof replies)));
    const call = async (id: number, req: object) => {
      proc.stdin.write(encodeFrame({ id, ...req }));
      for (let i = 0; i < 200 && !replies.some((r) => r.id === id); i++) await new Promise((res) => setTimeout(res, 50));
      return replies.find((r) => r.id === id)!;
    };
    try {
      // The host tells the add-on to ask for a PIN (not a passphrase) before any unlock.
      expect((await call(0, { op: 'info' })).result).toMatchObject({ locked: true, secret: 'pin', tokenLabel: 'alice' });
      const wrong = await call(1, { op: 'unlock', passphrase: '9999', minutes: 5 });
      expect(wrong).toMatchObject({ ok: false, error: { code: 'BAD_PIN' } });
      expect(wrong.error!.message).toMatch(/wrong PIN/);
      expect((await call(2, { op: 'unlock', passphrase: PIN, minutes: 5 })).ok).toBe(true);
      const digest = new Uint8Array(32).fill(7);
      const sig = await call(3, { op: 'sign', digest: toBase64(digest) });
      const cert = decodeCert(fromBase64(sig.ok ? (await call(4, { op: 'info' })).result.card.cert : '')) as CardCert;
      expect(verify(cert.signPub, digest, fromBase64(sig.result.sig))).toBe(true);
    } finally {
      proc.stdin.end();
      proc.kill();
    }
  }, 60_000);

  it('never shows the group key in any output or file', async () => {
    const forms = [toHex(groupKey), toBase64(groupKey), Buffer.from(groupKey).toString('base64url')];
    const texts = [...outputs.flatMap((r) => [r.stdout, r.stderr]), ...fs.readdirSync(dir).filter((f) => fs.statSync(p(f)).isFile()).map((f) => fs.readFileSync(p(f), 'latin1'))];
    for (const t of texts) for (const f of forms) expect(t.includes(f)).toBe(false);
    expect(texts.length).toBeGreaterThan(20);
  });
});
