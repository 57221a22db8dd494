// Distributor-blind codes from the CLI: the group's blind secret made on one card and
// shared card to card (also into a token), codes handed over with their blind part, a
// build that refuses until given it, a mistyped blind part, group and ID mode.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalize } from '../../card/index.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../support/softhsm.js';
import { ensureBuilt, sealcode, sealcodeJson, show } from './harness.js';

describe('blind codes from the CLI', () => {
  const hsm = startSoftHsm();
  hsm.initToken('tom', '1234');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-blind-'));
  const p = (f: string) => path.join(dir, f);
  const env = { ...hsm.env, SEALCODE_PIN: '1234' };
  const run = (args: string[]) => sealcode(args, { env, cwd: dir });
  const json = (args: string[]) => sealcodeJson(args, { env, cwd: dir });
  const ids: Record<string, string> = {};
  let codes: { serial: string; code: string }[] = [];

  beforeAll(async () => {
    ensureBuilt();
    await run(['init', '--data', 'data']);
    const a = await json(['admin', 'issue-card', '--data', 'data', '--blind', '--name', 'Alice', '--email', 'a@example.test', '--codes', '3', '--out', 'alice.card']);
    expect(a.run.code, show(a.run)).toBe(0);
    ids.group = a.json.groupId;
    ids.alice = a.json.cardId;
    ids.bob = (await json(['admin', 'issue-card', '--data', 'data', '--group', ids.group!, '--name', 'Bob', '--email', 'b@example.test', '--codes', '0', '--out', 'bob.card'])).json.cardId;
    const t = await json(['admin', 'issue-card', '--data', 'data', '--group', ids.group!, '--name', 'Tom', '--email', 't@example.test', '--codes', '0', '--out', 'tom.card', '--token-module', SOFTHSM_MODULE, '--token-label', 'tom']);
    expect(t.run.code, show(t.run)).toBe(0);
    ids.tom = t.json.cardId;
    fs.writeFileSync(p('m.txt'), 'for the holder of the code');
  }, 120_000);
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    hsm.cleanup();
  });

  it('makes the blind secret on one card and shares it, sealed card to card, also into a token that keeps it', async () => {
    const early = await run(['card', 'codes', '--card', 'alice.card']);
    expect(early.code).toBe(3);
    expect(early.stderr).toMatch(/holds no blind secret yet/);
    expect((await run(['card', 'blind', '--card', 'alice.card'])).code).toBe(0);
    expect((await run(['card', 'blind', '--card', 'alice.card'])).stderr).toMatch(/already holds a blind secret/);
    codes = (await json(['card', 'codes', '--card', 'alice.card'])).json;
    for (const c of codes) expect(c.code).toMatch(/^SC-[0-9A-Z-]{34}\+[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$/);
    for (const who of ['bob', 'tom']) {
      expect((await run(['card', 'cert', '--card', `${who}.card`, '-o', `${who}.cert`])).code).toBe(0);
      const ex = await run(['card', 'blind', 'export', '--card', 'alice.card', '--to', ids[who]!, '--cert', `${who}.cert`, '-o', `b-${who}.json`]);
      expect(ex.code, show(ex)).toBe(0);
    }
    // Not for Bob's card: refused; and a file changed on the way does not verify.
    expect((await run(['card', 'blind', 'import', '--card', 'bob.card', 'b-tom.json'])).code).toBe(3);
    const changed = JSON.parse(fs.readFileSync(p('b-bob.json'), 'utf8'));
    changed.sealed = changed.sealed.slice(0, 10) + (changed.sealed[10] === 'A' ? 'B' : 'A') + changed.sealed.slice(11);
    fs.writeFileSync(p('b-bad.json'), JSON.stringify(changed));
    expect((await run(['card', 'blind', 'import', '--card', 'bob.card', 'b-bad.json'])).code).toBe(4);
    expect((await run(['card', 'blind', 'import', '--card', 'bob.card', 'b-bob.json'])).code).toBe(0);
    const tom = await run(['card', 'blind', 'import', '--card', 'tom.card', 'b-tom.json']);
    expect(tom.code, show(tom)).toBe(0);
    const info = await json(['card', 'token-info', '--card', 'tom.card']);
    expect(info.json.objects.find((o: { role: string }) => o.role === 'blind')).toMatchObject({ sensitive: true, extractable: false, valueRead: 'refused (CKR_ATTRIBUTE_SENSITIVE)' });
    const out = await run(['card', 'blind', 'export', '--card', 'tom.card', '--to', ids.bob!, '--cert', 'bob.cert']);
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/never lets it out/);
    // Every card of the group shows the same blind parts.
    expect((await json(['card', 'blind-part', '--card', 'tom.card', '--serial', codes[0]!.serial])).json.blindPart).toBe(codes[0]!.code.split('+')[1]);
  }, 120_000);

  it('redeems the whole code, keeps no blind part, and the build refuses (3) until it has it', async () => {
    const [c] = codes;
    const part = normalize(c!.code.split('+')[1]!);
    const r = await run(['admin', 'redeem', '--data', 'data', c!.code, '--email', 'dana@example.test', '--out', 'dana.json']);
    expect(r.code, show(r)).toBe(0);
    expect(fs.readFileSync(p('dana.json'), 'utf8')).toMatch(/"blind": "needed"/);
    for (const f of ['dana.json', ...fs.readdirSync(p('data')).map((x) => path.join('data', x))])
      if (fs.statSync(p(f)).isFile()) expect(normalize(fs.readFileSync(p(f), 'latin1')).includes(part)).toBe(false);
    expect(r.stdout.includes(part) || normalize(r.stdout).includes(part)).toBe(false);

    expect((await run(['card', 'encrypt', '--card', 'bob.card', '--to', c!.serial, 'm.txt', '-o', 'm.seal'])).code).toBe(0);
    const without = await run(['dedicated', 'decrypt', '--build', 'dana.json', 'm.seal', '-o', 'm.out']);
    expect(without.code).toBe(3);
    expect(without.stderr).toMatch(/lacks the code's blind part/);
    expect((await run(['dedicated', 'encrypt', '--build', 'dana.json', 'm.txt', '-o', 'x.seal'])).code).toBe(3);
    const typo = c!.code.slice(0, -1) + (c!.code.endsWith('A') ? 'B' : 'A');
    const mistyped = await run(['dedicated', 'complete', '--build', 'dana.json', '--code', typo, '-o', 'dana2.json']);
    expect(mistyped.code).toBe(3);
    expect(mistyped.stderr).toMatch(/typing mistake/);
    expect(fs.existsSync(p('dana2.json'))).toBe(false);
    expect((await run(['dedicated', 'complete', '--build', 'dana.json', '--code', c!.code, '-o', 'dana2.json'])).code).toBe(0);
    expect(fs.readFileSync(p('dana2.json'), 'utf8').includes(part)).toBe(false);
    const opened = await run(['dedicated', 'decrypt', '--build', 'dana2.json', 'm.seal', '-o', 'm.out']);
    expect(opened.code, show(opened)).toBe(0);
    // The other way, to the token card of the group; and --code completes in memory.
    expect((await run(['dedicated', 'encrypt', '--build', 'dana.json', '--code', c!.code, 'm.txt', '-o', 'r.seal'])).code).toBe(0);
    const tom = await run(['card', 'decrypt', '--card', 'tom.card', 'r.seal', '-o', 'r.out']);
    expect(tom.code, show(tom)).toBe(0);
    expect(fs.readFileSync(p('r.out'), 'utf8')).toBe('for the holder of the code');
  }, 120_000);

  it('works in ID mode: the blind part of the ID, sealed for by a token card of the group', async () => {
    const c = codes[1]!;
    const handed = (await json(['card', 'blind-part', '--card', 'alice.card', '--serial', c.serial, '--id', 'alice-friends'])).json.code as string;
    expect(handed).not.toBe(c.code);
    expect((await run(['admin', 'redeem', '--data', 'data', handed, '--email', 'erin@example.test', '--id', 'alice-friends', '--out', 'erin.json'])).code).toBe(0);
    // The serial's own blind part does not fit an ID build.
    expect((await run(['dedicated', 'complete', '--build', 'erin.json', '--code', c.code, '-o', 'erin2.json'])).code).toBe(3);
    expect((await run(['dedicated', 'complete', '--build', 'erin.json', '--code', handed, '-o', 'erin2.json'])).code).toBe(0);
    expect((await run(['card', 'encrypt', '--card', 'tom.card', '--to', 'alice-friends', 'm.txt', '-o', 'i.seal'])).code).toBe(0);
    const r = await run(['dedicated', 'decrypt', '--build', 'erin2.json', 'i.seal', '-o', 'i.out']);
    expect(r.code, show(r)).toBe(0);
  }, 120_000);
});
