// Names, emails and embedded file names reach the terminal shown, never obeyed: a card
// from before names were checked carries ESC/BEL/bidi in its name, and a sealed file's
// own name carries ESC, BEL, a newline and U+202E. `card decrypt` escapes them in what it
// prints and writes the content under a cleaned file name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCard, newGroupKey, newSigningKey, sealCardFile } from '../../card/index.js';
import { PASS, ensureBuilt, sealcode, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-ctl-'));
const p = (name: string): string => path.join(dir, name);
const EVIL_NAME = 'Mal\x1b]0;owned\x07lory\u202Eexe.txt';
const EVIL_FILE = 'report\x1b[31m\x07\nline2\u202Egpj.exe';
const RAW = /[\x1b\x07\u202e]/;

beforeAll(async () => {
  ensureBuilt();
  const issuer = newSigningKey();
  const card = makeCard(issuer.secretKey, issuer.publicKey, {
    purchaser: { id: 'pur_evil', name: EVIL_NAME, email: 'mal\x1b[2J@example.test' },
    groupId: 'grp_x',
    groupKey: newGroupKey(),
    codes: 1,
  });
  fs.writeFileSync(p('evil.card'), await sealCardFile(card.data, PASS));
  fs.writeFileSync(p(EVIL_FILE), 'content');
  const r = await sealcode(['card', 'encrypt', '--card', p('evil.card'), '--sign-only', p(EVIL_FILE), '-o', p('sealed.bin')]);
  expect(r.code, show(r)).toBe(0);
  expect(r.stdout).not.toMatch(RAW);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('control characters on the terminal', () => {
  it('card decrypt escapes the sealer’s name and the embedded file name, and cleans the output name', async () => {
    const out = p('opened');
    fs.mkdirSync(out);
    fs.copyFileSync(p('sealed.bin'), path.join(out, 'sealed.bin'));
    const r = await sealcode(['card', 'decrypt', '--card', p('evil.card'), path.join(out, 'sealed.bin')]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stdout).toContain('Mal\\x1b]0;owned\\x07lory\\u202eexe.txt');
    expect(r.stdout).toContain('report\\x1b[31m\\x07\\x0aline2\\u202egpj.exe');
    const written = fs.readdirSync(out).filter((n) => n !== 'sealed.bin');
    expect(written).toEqual(['report_[31m__line2_gpj.exe']);
    expect(fs.readFileSync(path.join(out, written[0]!), 'utf8')).toBe('content');
  });

  it('card info shows the name escaped', async () => {
    const r = await sealcode(['card', 'info', '--card', p('evil.card')]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('\\x1b]0;owned\\x07');
  });

  it('admin issue-card and admin redeem refuse such names and emails (exit 2), writing nothing', async () => {
    const data = ['--data', p('data')];
    expect((await sealcode(['init', ...data])).code).toBe(0);
    for (const [name, email] of [['Mal\x1b]0;x\x07', 'm@example.test'], ['Mal', 'm\u202E@example.test']]) {
      const r = await sealcode(['admin', 'issue-card', '--name', name!, '--email', email!, '--out', p('no.card'), ...data]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toMatch(/control or text-direction characters/);
      expect(r.stderr).not.toMatch(RAW);
      expect(fs.existsSync(p('no.card'))).toBe(false);
    }
    const ok = await sealcode(['admin', 'issue-card', '--name', 'Ok', '--email', 'ok@example.test', '--codes', '1', '--out', p('ok.card'), '--json', ...data]);
    expect(ok.code, show(ok)).toBe(0);
    const codes = JSON.parse((await sealcode(['card', 'codes', '--card', p('ok.card'), '--json'])).stdout);
    const r = await sealcode(['admin', 'redeem', codes[0].code, '--email', '\x1b[2Jx@example.test', '--out', p('x.json'), ...data]);
    expect(r.code, show(r)).toBe(2);
    expect(fs.existsSync(p('x.json'))).toBe(false);
  });
});
