// The CLI contract around the happy path: --help everywhere, exit codes for bad usage,
// passphrases, mistyped and reused codes, --json output (errors included), the data
// folder default, and exactly-once redemption under 20 concurrent processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { modules, modulesFor, type Entry } from '../../cli/commands/index.js';
import { buildProgram } from '../../cli/program.js';
import { OPENS_CARD } from '../../cli/early-card-key.js';
import { openSeller } from '../../distributor/seller/seller.js';
import { spawnSync } from 'node:child_process';
import { ensureBuilt, PASS, ROOT, sealcode, sealcodeJson, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-usage-'));
const data = path.join(dir, 'data');
const p = (name: string): string => path.join(dir, name);
const D = ['--data', data];
let codes: { serial: string; code: string; state: string }[];
let cardId: string;

beforeAll(async () => {
  ensureBuilt();
  expect((await sealcode(['init', ...D])).code).toBe(0);
  const issued = await sealcodeJson(['admin', 'issue-card', '--name', 'Alice', '--email', 'alice@example.test', '--codes', '4', '--out', p('alice.card'), ...D]);
  expect(issued.run.code, show(issued.run)).toBe(0);
  cardId = issued.json.cardId;
  codes = (await sealcodeJson(['card', 'codes', '--card', p('alice.card')])).json;
  fs.writeFileSync(p('f.txt'), 'hello\n');
});

afterAll(async () => fs.rmSync(dir, { recursive: true, force: true }));

function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const c of cmd.commands) {
    const path = [...prefix, c.name()];
    out.push(path);
    out.push(...commandPaths(c, path));
  }
  return out;
}

async function inBatches<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(fn))));
  return out;
}

describe('CLI usage', () => {
  it('each command module registers exactly what the lazy-loading list says it does', async () => {
    for (const m of modules) {
      const program = new Command('sealcode');
      const groups = { admin: program.command('admin'), card: program.command('card'), dedicated: program.command('dedicated'), addon: program.command('addon') };
      (await m.load()).register(program, groups);
      const subs = Object.fromEntries(Object.entries(groups).map(([g, c]) => [g, c.commands.map((x) => x.name())]).filter(([, v]) => v!.length));
      expect(subs).toEqual(m.subcommands ?? {});
      const top = program.commands.filter((c) => !(c.name() in groups)).map((c) => ({ name: c.name(), description: c.description() }));
      expect(top).toEqual(m.command ? [m.command] : []);
    }
  });

  it('the root --help, built without loading any command module, lists every command as the full one does', async () => {
    const listed = async (argv?: string[]): Promise<[string, string][]> =>
      (await buildProgram(argv)).commands.map((c) => [c.name(), c.description()]);
    expect(modulesFor(['--help'], ['admin', 'card', 'dedicated', 'addon'])).toBe('placeholders');
    expect(await listed(['--help'])).toEqual(await listed());
  });

  it("the early card key's list is every command that takes both --card and --passphrase-file", async () => {
    const program = await buildProgram();
    const withBoth = commandPaths(program)
      .filter((path) => {
        const cmd = path.reduce((c: Command, name) => c.commands.find((x) => x.name() === name)!, program);
        const longs = cmd.options.map((o) => o.long);
        return longs.includes('--card') && longs.includes('--passphrase-file');
      })
      .map((path) => path.join(' '));
    expect([...OPENS_CARD].sort()).toEqual(withBoth.sort());
  });

  it('the built CLI loads only what the command runs: --help no card module, card info no container, and its scrypt first', async () => {
    const loaded = async (args: string[]): Promise<string[]> => {
      const r = await sealcode(args, { nodeArgs: ['--import', path.join(ROOT, 'tests/cli/module-list.mjs')] });
      expect(r.code, show(r)).toBe(0);
      return [...r.stderr.matchAll(/^LOADED (.*)$/gm)].map((m) => m[1]!.replace(/^file:\/\/.*?\/(build|node_modules)\//, ''));
    };
    const help = await loaded(['--help']);
    expect(help).toContain('cli/main.js');
    // Of the card library, only what the early scrypt step needs (cli/early-card-key.ts).
    const early = ['card/bytes.js', 'card/errors.js', 'card/cardfile-envelope.js', 'card/scrypt-native.js'];
    expect(help.filter((u) => u.startsWith('card/') && !early.includes(u))).toEqual([]);
    expect(help.filter((u) => /noble|cli\/commands\/(?!index)/.test(u))).toEqual([]);
    const info = await loaded(['card', 'info', '--card', p('alice.card')]);
    expect(info).toContain('cli/commands/card.js');
    const unneeded = /card\/(container\/|index\.js|issuer|status|policy|blind-profile)|cli\/(sealing|seal-files|describe|blind-codes|recipients|progress)|thunderbird-addon|distributor\/seller|zod|cli-progress/;
    expect(info.filter((u) => unneeded.test(u))).toEqual([]);
    // scrypt is on its way before commander and the command modules start loading.
    expect(info.indexOf('card/scrypt-native.js')).toBeGreaterThan(-1);
    expect(info.indexOf('card/scrypt-native.js')).toBeLessThan(info.findIndex((u) => u.startsWith('commander/')));
  });

  it('a subcommand loads only its module; an unknown one loads its whole group', async () => {
    const groups = ['admin', 'card', 'dedicated', 'addon'];
    const subsOf = (e: Entry[] | 'placeholders'): string[] => (e === 'placeholders' ? [] : e.flatMap((m) => Object.values(m.subcommands ?? {}).flat().concat(m.command ? [m.command.name] : [])));
    expect(subsOf(modulesFor(['card', 'info', '--card', 'x'], groups))).toEqual(['info', 'codes', 'import-codes', 'encrypt', 'decrypt']);
    expect(subsOf(modulesFor(['card', 'nope'], groups))).toEqual(expect.arrayContaining(['host', 'info', 'charge']));
    expect(subsOf(modulesFor(['serve', '--port', '1'], groups))).toEqual(['serve']);
    expect(modulesFor(['frobnicate'], groups)).toBe(modules);
  });

  it('--help works on every command and exits 0', async () => {
    // Every command in-process (one process per command would cost a minute on two
    // cores), and the real binary for the top level and a leaf.
    const paths = [[], ...commandPaths(await buildProgram())];
    expect(paths.map((x) => x.join(' '))).toEqual(
      expect.arrayContaining(['init', 'verify', 'quickstart', 'admin issue-card', 'admin sell-codes', 'admin redeem', 'card info', 'card codes', 'card import-codes', 'card encrypt', 'card decrypt', 'dedicated encrypt', 'dedicated decrypt']),
    );
    for (const cmd of paths) {
      const program = await buildProgram();
      let out = '';
      const capture = (c: Command): void => {
        c.configureOutput({ writeOut: (t) => void (out += t), writeErr: (t) => void (out += t) });
        c.commands.forEach(capture);
      };
      capture(program);
      const err = await program.parseAsync(['node', 'sealcode', ...cmd, '--help']).then(() => null, (e: unknown) => e);
      expect(err, cmd.join(' ')).toBeInstanceOf(CommanderError);
      expect((err as CommanderError).exitCode, cmd.join(' ')).toBe(0);
      expect(out).toContain(`Usage: sealcode${cmd.length ? ' ' + cmd.join(' ') : ''}`);
    }
    const runs = await Promise.all([[], ['card', 'encrypt']].map(async (cmd) => ({ cmd, r: await sealcode([...cmd, '--help']) })));
    for (const { cmd, r } of runs) {
      expect(r.code, `${cmd.join(' ')} --help\n${show(r)}`).toBe(0);
      expect(r.stdout).toContain(`Usage: sealcode${cmd.length ? ' ' + cmd.join(' ') : ''}`);
    }
  });

  it('bad usage exits 2', async () => {
    const cases = [
      ['no-such-command'],
      ['card', 'encrypt', '--card', p('alice.card'), p('f.txt')], // no --to
      ['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', p('missing.txt'), '-o', p('m.seal')],
      ['admin', 'issue-card', '--name', 'X', '--email', 'x@example.test', '--codes', 'many', '--out', p('x.card'), ...D],
      ['admin', 'redeem', codes[0]!.code, '--out', p('x.json'), ...D], // no --email
      ['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', '--sign-only', p('f.txt')],
      ['verify', '--data', p('nowhere'), p('f.txt')],
    ];
    const runs = await inBatches(cases, 4, (c) => sealcode(c));
    runs.forEach((r, i) => expect(r.code, `${cases[i]!.join(' ')}\n${show(r)}`).toBe(2));
    expect(fs.existsSync(p('x.card'))).toBe(false);
    expect(fs.existsSync(p('m.seal'))).toBe(false);
  });

  it('bad recipients, IDs, files and folders are refused before anything is written', async () => {
    fs.writeFileSync(p('empty-pass.txt'), '');
    fs.writeFileSync(p('garbage.bundle'), Buffer.alloc(120, 7));
    fs.writeFileSync(p('status-garbage.json'), 'not json');
    const card = ['--card', p('alice.card')];
    const cases: [string[], number, RegExp][] = [
      [['admin', 'redeem', codes[0]!.code, '--email', 'e@example.test', '--id', codes[0]!.serial, '--out', p('id1.json'), ...D], 2, /reads as a code serial/],
      [['admin', 'redeem', codes[0]!.code, '--email', 'e@example.test', '--id', 'two words', '--out', p('id2.json'), ...D], 2, /without spaces/],
      [['admin', 'redeem', codes[0]!.code, '--email', 'e@example.test', '--id', 'group', '--out', p('id3.json'), ...D], 2, /reserved/],
      [['card', 'encrypt', ...card, '--to', 'group:grp_OTHER', p('f.txt'), '-o', p('r1.seal')], 2, /cannot seal for/],
      [['card', 'encrypt', ...card, '--to', 'pair:pair_NONE', p('f.txt'), '-o', p('r2.seal')], 2, /no pair key/],
      [['card', 'encrypt', ...card, '--to', 'SC-0000-0000', p('f.txt'), '-o', p('r3.seal')], 3, /not a sealcode code/],
      [['card', 'encrypt', ...card, '--to', 'group', p('f.txt'), '-o', p('no-such-dir/r4.seal')], 2, /does not exist/],
      [['card', 'info', '--card', p('alice.card'), '--passphrase-file', p('empty-pass.txt')], 2, /empty/],
      [['card', 'import-codes', ...card, p('garbage.bundle')], 3, /not sealed to this card/],
      [['verify', ...D, '--status', p('status-garbage.json'), p('f.txt')], 4, /not JSON/],
      [['admin', 'sell-codes', '--card', 'card_NOPE', '--count', '1', '--out', p('nope.bundle'), ...D], 2, /unknown card/],
      [['admin', 'issue-card', '--name', 'X', '--email', 'x@example.test', '--group', 'grp_NOPE', '--out', p('nope.card'), ...D], 2, /unknown group/],
    ];
    const runs = await inBatches(cases, 4, ([args]) => sealcode(args));
    runs.forEach((r, i) => {
      const [args, code, msg] = cases[i]!;
      expect(r.code, `${args.join(' ')}\n${show(r)}`).toBe(code);
      expect(r.stderr).toMatch(msg);
    });
    for (const f of ['id1.json', 'id2.json', 'id3.json', 'r1.seal', 'r2.seal', 'r3.seal', 'nope.bundle', 'nope.card']) expect(fs.existsSync(p(f)), f).toBe(false);
    const s = await openSeller(data);
    try {
      expect((await s.db.value('SELECT state FROM codes WHERE serial = ?', codes[0]!.serial))).toBe('unused');
      expect((await s.db.value('SELECT COUNT(*) FROM cards'))).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('a wrong passphrase is a clear error (1) that never echoes a passphrase', async () => {
    const r = await sealcode(['card', 'info', '--card', p('alice.card')], { env: { SEALCODE_PASSPHRASE: 'not the passphrase' } });
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(r.stderr + r.stdout).not.toContain('not the passphrase');
    const j = await sealcodeJson(['card', 'info', '--card', p('alice.card')], { env: { SEALCODE_PASSPHRASE: 'not the passphrase' } });
    expect(j.json.error.code).toBe('BAD_PASSPHRASE');
  });

  it('--passphrase-file takes precedence; without any passphrase and no terminal: 2', async () => {
    fs.writeFileSync(p('pass.txt'), PASS + '\n', { mode: 0o600 });
    const r = await sealcode(['card', 'info', '--card', p('alice.card'), '--passphrase-file', p('pass.txt')], { env: { SEALCODE_PASSPHRASE: 'wrong' } });
    expect(r.code, show(r)).toBe(0);
    const none = await sealcode(['card', 'info', '--card', p('alice.card')], { env: { SEALCODE_PASSPHRASE: undefined } });
    expect(none.code, show(none)).toBe(2);
    expect(none.stderr).toMatch(/SEALCODE_PASSPHRASE/);
  });

  it('a mistyped code is rejected by its check characters (3); an unknown one too; nothing changes', async () => {
    const c = codes[1]!.code;
    const last = c.slice(-1);
    const typo = c.slice(0, -1) + (last === 'X' ? 'Y' : 'X');
    const r = await sealcode(['admin', 'redeem', typo, '--email', 'e@example.test', '--out', p('typo.json'), ...D]);
    expect(r.code, show(r)).toBe(3);
    expect(r.stderr).toMatch(/typing mistake/);
    // Well-formed, right check characters, wrong secret: the same answer for unknown and wrong.
    const { formatCode } = await import('../../card/codes.js');
    const forged = formatCode(codes[1]!.serial, '0'.repeat(16));
    const unknown = formatCode('0000000000', '0'.repeat(16));
    const [f, u] = await Promise.all([
      sealcode(['admin', 'redeem', forged, '--email', 'e@example.test', '--out', p('forged.json'), ...D]),
      sealcode(['admin', 'redeem', unknown, '--email', 'e@example.test', '--out', p('unknown.json'), ...D]),
    ]);
    expect(f.code, show(f)).toBe(3);
    expect(u.code, show(u)).toBe(3);
    expect(f.stderr).toBe(u.stderr);
    for (const n of ['typo.json', 'forged.json', 'unknown.json']) expect(fs.existsSync(p(n))).toBe(false);
    const s = await openSeller(data);
    expect((await s.db.value('SELECT state FROM codes WHERE serial = ?', codes[1]!.serial))).toBe('unused');
    await s.close();
    // Case, spaces and O/0 confusions are tolerated.
    const loose = codes[1]!.code.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o');
    const ok = await sealcode(['admin', 'redeem', loose, '--email', 'e@example.test', '--out', p('loose.json'), ...D]);
    expect(ok.code, show(ok)).toBe(0);
    const again = await sealcode(['admin', 'redeem', codes[1]!.code, '--email', 'e@example.test', '--out', p('again.json'), ...D]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/already been used/);
  });

  it('verify tells a file of another kind (or a newer format) from a damaged sealed one, in the banner words', async () => {
    fs.writeFileSync(p('other.pdf.seal'), Buffer.from('%PDF-1.7 not sealed at all'));
    const enc = await sealcode(['card', 'encrypt', '--card', p('alice.card'), '--to', 'group', p('f.txt'), '-o', p('cut.seal')]);
    expect(enc.code, show(enc)).toBe(0);
    const whole = fs.readFileSync(p('cut.seal'));
    fs.writeFileSync(p('cut.seal'), whole.subarray(0, 40));
    const newer = Buffer.from(whole);
    newer[8] = 2; // the format version byte
    fs.writeFileSync(p('newer.seal'), newer);
    const verify = (f: string) => sealcode(['verify', ...D, p(f)]);
    const [other, cut, next] = await Promise.all([verify('other.pdf.seal'), verify('cut.seal'), verify('newer.seal')]);
    for (const r of [other, next]) {
      expect(r.stderr, show(r)).toMatch(/sealcode could not check .*\.\n\s+It is not a sealed file this sealcode can read/);
      expect(r.stderr).not.toMatch(/Damaged/);
    }
    expect(cut.stderr, show(cut)).toMatch(/Damaged: .* is not a readable sealed file/);
    expect([other.code, cut.code, next.code]).toEqual([cut.code, cut.code, cut.code]);
    expect(cut.code).not.toBe(0);
  });

  it('--json outputs parse, errors included', async () => {
    const info = await sealcodeJson(['card', 'info', '--card', p('alice.card')]);
    expect(info.json.cardId).toBe(cardId);
    const init = await sealcodeJson(['init', ...D]);
    expect(init.json.created).toBe(false);
    const enc = await sealcodeJson(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[2]!.serial, p('f.txt')]);
    expect(enc.json.output).toBe(p('f.txt.seal'));
    const v = await sealcodeJson(['verify', ...D, p('f.txt.seal')]);
    expect(v.json.certified).toBe(true);
    const err = await sealcodeJson(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[2]!.serial, p('f.txt')]);
    expect(err.run.code).toBe(2); // exists already
    expect(err.json.error.code).toBe('USAGE');
    const dec = await sealcodeJson(['card', 'decrypt', '--card', p('alice.card'), p('f.txt.seal'), '-o', p('f.out')]);
    expect(dec.json.certified).toBe(true);
    expect(dec.json.size).toBe(6);
  });

  it('the data folder defaults to SEALCODE_DATA, then ./sealcode-data', async () => {
    const envDir = p('env-data');
    const r1 = await sealcodeJson(['init'], { env: { SEALCODE_DATA: envDir } });
    expect(r1.json.dataDir).toBe(envDir);
    expect(fs.existsSync(path.join(envDir, 'sealcode.db'))).toBe(true);
    const cwd = p('cwd');
    fs.mkdirSync(cwd);
    const r2 = await sealcodeJson(['init'], { cwd });
    expect(r2.json.dataDir).toBe(path.join(cwd, 'sealcode-data'));
    expect(fs.statSync(path.join(cwd, 'sealcode-data', 'master.key')).mode & 0o777).toBe(0o600);
  });

  it('quickstart runs the whole flow on a fresh data folder', async () => {
    const r = await sealcodeJson(['quickstart', '--data', p('qs')]);
    expect(r.run.code, show(r.run)).toBe(0);
    expect(r.json.cardId).toMatch(/^card_/);
    expect(fs.readFileSync(p('qs/quickstart/hello.from-alice.txt'))).toEqual(fs.readFileSync(p('qs/quickstart/hello.txt')));
    expect(fs.readFileSync(p('qs/quickstart/reply.from-dana.txt'))).toEqual(fs.readFileSync(p('qs/quickstart/reply.txt')));
    const human = await sealcode(['quickstart', '--data', p('qs')], { env: { SEALCODE_PASSPHRASE: undefined } });
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toMatch(/Try next/);
    // No passphrase given: a random one went to a 0600 file, never to the output.
    const pass = fs.readFileSync(p('qs/quickstart/alice.passphrase'), 'utf8').trim();
    expect(fs.statSync(p('qs/quickstart/alice.passphrase')).mode & 0o777).toBe(0o600);
    expect(human.stdout).not.toContain(pass);
    // Every "try next" line runs as printed, from where quickstart ran, without a passphrase in the environment.
    const next = human.stdout.split('Try next:')[1]!.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('$ ')).map((l) => l.slice(2));
    expect(next.length).toBeGreaterThanOrEqual(5);
    const env = { ...process.env };
    delete env.SEALCODE_PASSPHRASE;
    for (const line of next) {
      const r = spawnSync('bash', ['-c', line], { cwd: ROOT, env, encoding: 'utf8' });
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
    }
  });
});

describe('exactly-once redemption', () => {
  it('20 concurrent `admin redeem` of one code: one succeeds (0), 19 fail (3)', async () => {
    const code = codes[3]!;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => sealcode(['admin', 'redeem', code.code, '--email', `r${i}@example.test`, '--out', p(`race-${i}.json`), ...D])),
    );
    const exits = runs.map((r) => r.code).sort();
    expect(exits, runs.map(show).join('\n')).toEqual([0, ...Array(19).fill(3)]);
    for (const r of runs.filter((r) => r.code === 3)) expect(r.stderr).toMatch(/already been used/);
    expect(fs.readdirSync(dir).filter((f) => /^race-\d+\.json$/.test(f))).toHaveLength(1);
    const s = await openSeller(data);
    try {
      expect((await s.db.value('SELECT state FROM codes WHERE serial = ?', code.serial))).toBe('already_used');
      expect((await s.db.value('SELECT COUNT(*) FROM redemptions WHERE serial = ?', code.serial))).toBe(1);
    } finally {
      await s.close();
    }
  });
});
