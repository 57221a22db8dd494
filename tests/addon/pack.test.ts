// What `npm pack` ships for a purchaser without the source: the built CLI, the message
// table it reads, both XPIs and no sources or tests; unpacked beside the installed
// dependencies, its `card host --install` writes a host that answers the add-on's protocol.
// (A full `npm install -g` of the tarball fetches and compiles the dependencies from the
// registry, minutes of work CI cannot spend; this checks the tarball's own contents.)
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../card/host-protocol.js';
import { PASSPHRASE, ROOT, makeAddonWorld, type AddonWorld } from './support/addon-world.js';

const run = promisify(execFile);
let dir: string;
let pkg: string;
let files: string[];
let w: AddonWorld;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-pack-'));
  // The tree was built by `npm test`'s pretest; packing runs no scripts here.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const info = JSON.parse(stdout)[0] as { filename: string; files: { path: string }[] };
  files = info.files.map((f) => f.path);
  await run('tar', ['-xzf', path.join(dir, info.filename), '-C', dir]);
  pkg = path.join(dir, 'package');
  // Stands in for the dependencies `npm install -g` puts beside it.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  w = await makeAddonWorld(dir);
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('npm pack', () => {
  it('ships the built CLI, its message table, both XPIs and the pages\' assets; no sources, tests or maps', () => {
    for (const f of ['bin/sealcode.js', 'build/cli/main.js', 'build/thunderbird-addon/_locales/en/messages.json', 'dist/sealcode-purchaser.xpi', 'dist/sealcode-dedicated-template.xpi', 'package.json', 'distributor/server/assets/sealcode.css', 'distributor/server/assets/local-time.js', 'distributor/server/assets/favicon.ico'])
      expect(files).toContain(f);
    expect(files.filter((f) => /\.ts$|\.map$|^tests\/|^build\/tests\/|\.png$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('card host --install from the unpacked package registers a host that answers', async () => {
    const home = path.join(dir, 'home');
    fs.mkdirSync(home);
    const bin = path.join(pkg, 'bin', 'sealcode.js');
    await run(process.execPath, [bin, 'card', 'host', '--install', '--card', w.cardFile], { env: { ...process.env, HOME: home } });
    const manifest = JSON.parse(fs.readFileSync(path.join(home, '.mozilla', 'native-messaging-hosts', 'sealcode_card.json'), 'utf8'));
    const launcher = fs.readFileSync(manifest.path, 'utf8');
    expect(launcher).toContain(bin);
    // Started as Thunderbird starts it: the launcher, with the manifest path and the add-on id.
    const p = spawn(manifest.path, [path.join(home, 'm.json'), 'purchaser@sealcode.example']);
    const dec = new FrameDecoder();
    const got = new Promise<any>((resolve) => p.stdout.on('data', (b: Buffer) => dec.push(new Uint8Array(b)).forEach(resolve)));
    p.stdin.write(encodeFrame({ id: 1, op: 'unlock', passphrase: PASSPHRASE, minutes: 1 }));
    const r = await got;
    p.stdin.end();
    expect(r).toMatchObject({ id: 1, ok: true, result: { locked: false, card: { cardId: w.alice.data.cardId } } });
  }, 60_000);
});
