// Config validation: errors name the field; secrets from env and files; the rules that
// keep plaintext submission and the admin port on loopback.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../gateway/config.js';
import { newSigningKey, toBase64 } from '../../card/index.js';
import { tmpDir } from './support/fixtures.js';

const key = toBase64(newSigningKey().publicKey);
const base = () => ({
  issuerPublicKey: key,
  dataDir: './data',
  imap: { accounts: [{ name: 'main', host: '127.0.0.1', user: 'a@x', password: 'pw', folders: ['INBOX'] }] },
});
const smtp = () => ({
  users: [{ user: 'bob', password: 'pw' }],
  upstream: { host: 'mx.example.org' },
  card: { file: 'gw.card', passphrase: { env: 'CARD_PASS' } },
  mappings: [{ match: '@partner.test', label: 'ABCDEFGHJK' }],
});
const parse = (doc: unknown, env: NodeJS.ProcessEnv = {}) => parseConfig(JSON.stringify(doc), '/etc/sealcode/gateway.json', { env });
const fails = (doc: unknown, re: RegExp, env: NodeJS.ProcessEnv = {}) => {
  expect(() => parse(doc, env)).toThrow(ConfigError);
  expect(() => parse(doc, env)).toThrow(re);
};

describe('gateway config', () => {
  it('accepts a minimal config, fills defaults and resolves paths from the config folder', () => {
    const c = parse(base());
    expect(c.dataDir).toBe('/etc/sealcode/data');
    expect(c.imap.accounts[0]).toMatchObject({ port: 143, pollSeconds: 60, quarantineVerdicts: ['tampered'], password: 'pw' });
    expect(c.issuerPub).toHaveLength(32);
  });

  it('names the field that is wrong', () => {
    const d = base();
    (d.imap.accounts[0] as Record<string, unknown>).port = 70000;
    fails(d, /imap\.accounts\[0\]\.port/);
    fails({ ...base(), colour: 'blue' }, /unknown field\(s\) colour/);
    fails({ ...base(), issuerPublicKey: 'bm90IGEga2V5' }, /issuerPublicKey: an Ed25519 public key is 32 bytes/);
    fails({ ...base(), issuerPublicKey: undefined }, /issuerPublicKey: give exactly one/);
    fails({ ...base(), smtp: { ...smtp(), mappings: [{ match: 'nobody', label: 'X' }] } }, /smtp\.mappings\[0\]\.match/);
    expect(() => parseConfig('{ nope', 'g.json')).toThrow(/not valid JSON/);
  });

  it('takes secrets from the environment or a file, and says which one is missing', () => {
    const dir = tmpDir('sealcode-gw-cfg-');
    fs.writeFileSync(path.join(dir, 'imap.pass'), 'from-file\n');
    const d = base();
    d.imap.accounts[0]!.password = { file: 'imap.pass' } as unknown as string;
    const c = parseConfig(JSON.stringify({ ...d, smtp: smtp() }), path.join(dir, 'g.json'), { env: { CARD_PASS: 'from-env' } });
    expect(c.imap.accounts[0]!.password).toBe('from-file');
    expect(c.smtp!.card.passphrase).toBe('from-env');
    expect(c.smtp!.card.file).toBe(path.join(dir, 'gw.card'));
    expect(() => parseConfig(JSON.stringify({ ...d, smtp: smtp() }), path.join(dir, 'g.json'), { env: {} })).toThrow(
      /smtp\.card\.passphrase: environment variable CARD_PASS is not set/,
    );
    fs.rmSync(dir, { recursive: true });
  });

  it('reads the issuer key from the file `sealcode init` writes', () => {
    const dir = tmpDir('sealcode-gw-cfg-');
    fs.writeFileSync(path.join(dir, 'issuer.pub'), key + '\n');
    const c = parseConfig(JSON.stringify({ ...base(), issuerPublicKey: undefined, issuerPublicKeyFile: 'issuer.pub' }), path.join(dir, 'g.json'));
    expect(toBase64(c.issuerPub)).toBe(key);
    fs.rmSync(dir, { recursive: true });
  });

  it('allows plaintext submission and the admin port only on loopback', () => {
    fails({ ...base(), smtp: { ...smtp(), listen: { host: '0.0.0.0', port: 587 }, allowPlaintextOnLoopback: true } }, /smtp\.allowPlaintextOnLoopback/, {
      CARD_PASS: 'x',
    });
    expect(parse({ ...base(), smtp: { ...smtp(), allowPlaintextOnLoopback: true } }, { CARD_PASS: 'x' }).smtp!.allowPlaintextOnLoopback).toBe(true);
    fails({ ...base(), admin: { host: '0.0.0.0', port: 9000 } }, /admin\.host/);
  });

  it('refuses a quarantine folder that is also watched, and duplicate accounts', () => {
    const d = base();
    (d.imap.accounts[0] as Record<string, unknown>).quarantine = 'INBOX';
    fails(d, /imap\.accounts\[0\]\.quarantine/);
    const e = base();
    e.imap.accounts.push({ ...e.imap.accounts[0]! });
    fails(e, /imap\.accounts\[1\]\.name: duplicate/);
  });
});
