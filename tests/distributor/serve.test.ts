// `sealcode serve` as a real process with stdout on a pipe (as under journald or
// docker), on SQLite and on PostgreSQL: the console password stays in its 0600 file, the
// database password in no output, and the URL served (the default public URL) goes into
// every card and build.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCardFile } from '../../card/index.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { BACKENDS, ROOT, csrfOf, ensureBuilt, profileInXpi, tokenOf } from './helpers.js';
import { freshDb } from '../support/databases.js';

let dir: string;
let dbUrl: string | undefined;
let stderr = '';
// Trust authentication ignores it; it must still appear in no output.
const DB_PASSWORD = 'db-pass-must-not-leak';
const bin = join(ROOT, 'bin', 'sealcode.js');
let proc: ChildProcess;
let stdout = '';
let base = '';
let code = '';

/** A cookie-keeping fetch, like a browser. */
function browser() {
  const jar = new Map<string, string>();
  return async (path: string, init: RequestInit = {}) => {
    const r = await fetch(base + path, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of r.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0]!.split('=') as [string, string];
      jar.set(k, v);
    }
    return r;
  };
}
const dbArgs = () => (dbUrl ? ['--db', dbUrl] : []);
const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });

describe.each(BACKENDS)('on %s', (backend) => {
  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sealcode-serve-'));
    stdout = '';
    stderr = '';
    const fresh = await freshDb(backend);
    dbUrl = fresh?.replace('postgres://sealcode@', `postgres://sealcode:${DB_PASSWORD}@`);
    await initSeller(dir, { dbUrl });
    const seller = await openSeller(dir, { dbUrl });
    code = (await issueCard(seller, { name: 'Paula Purchaser', email: 'paula@example.test', codes: 1 })).data.codes[0]!.code;
    await seller.close();
    proc = spawn(process.execPath, [bin, 'serve', '--data', dir, '--port', '0', ...dbArgs()], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn' } });
    proc.stderr!.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (d) => {
        stdout += d;
        const m = /listening on (http:\/\/\S+)/.exec(stdout);
        if (m && stdout.includes('console password')) {
          base = m[1]!;
          resolve();
        }
      });
      proc.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
    });
  }, 60_000);
  afterAll(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('sealcode serve', () => {
    it('does not print the console password when stdout is not a terminal; the file is 0600', () => {
      const pwFile = join(dir, 'console-password');
      const password = readFileSync(pwFile, 'utf8').trim();
      expect(password.length).toBeGreaterThan(16);
      expect(stdout).not.toContain(password);
      expect(stdout).toContain(pwFile);
      expect(statSync(pwFile).mode & 0o777).toBe(0o600);
    });

    it('names the database it serves, never its password; /healthz reports it', async () => {
      expect(stdout).toMatch(backend === 'postgres' ? /database: +postgres:\/\/sealcode:\*\*\*@127\.0\.0\.1/ : /database: +SQLite in the data folder/);
      const h = await fetch(`${base}/healthz`);
      expect(h.status).toBe(200);
      expect(await h.json()).toEqual({ ok: true, db: { kind: backend, reachable: true, schemaVersion: 9, expectedSchemaVersion: 9 } });
      expect(stdout + stderr).not.toContain(DB_PASSWORD);
    });

    it('on a terminal (a pseudo-terminal from util-linux script) it shows a new password once', async () => {
      const fresh = mkdtempSync(join(tmpdir(), 'sealcode-serve-tty-'));
      const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
      const cmd = [process.execPath, bin, 'serve', '--data', fresh, '--port', '0'].map(q).join(' ');
      // Its own process group, so that the server under `script` is stopped with it.
      const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn' } });
      let out = '';
      try {
        await new Promise<void>((resolve, reject) => {
          p.stdout!.on('data', (d) => {
            out += d;
            if (/console password[^\n]*\n/.test(out)) resolve();
          });
          p.once('exit', (c) => reject(new Error(`script exited ${c}: ${out}`)));
        });
        const password = readFileSync(join(fresh, 'console-password'), 'utf8').trim();
        expect(out).toContain(`it is ${password} (shown this once)`);
      } finally {
        process.kill(-p.pid!, 'SIGTERM');
        await new Promise((r) => p.once('exit', r));
        rmSync(fresh, { recursive: true, force: true });
      }
    });

    it('writes the URL it serves at into cards issued in the console and into builds', async () => {
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const b = browser();
      const login = await b('/console/login');
      expect((await b('/console/login', form({ password: readFileSync(join(dir, 'console-password'), 'utf8').trim(), _csrf: csrfOf(await login.text()) }))).status).toBe(303);
      const home = await b('/console');
      const issued = await b(
        '/console/cards',
        form({ name: 'Quinn', email: 'quinn@example.test', group: 'new', codes: '1', maxCodes: '10', amount: '0', passphrase: 'quinn passphrase', passphrase2: 'quinn passphrase', _csrf: csrfOf(await home.text()) }),
      );
      // The console shows a new card once, on its own page: the card file is fetched from there.
      expect(issued.status).toBe(303);
      expect(issued.headers.get('location')).toBe('/console/issued');
      const file = await b('/console/issued/card');
      expect(file.status).toBe(200);
      const card = await openCardFile(await file.text(), 'quinn passphrase');
      expect(card.distributorUrl).toBe(base);

      const v = browser();
      const page = await v('/');
      const granted = await v('/redeem', form({ code, email: 'dana@example.test', _csrf: csrfOf(await page.text()) }));
      const token = tokenOf(await (granted.status === 303 ? await v(granted.headers.get('location')!) : granted).text());
      const xpi = new Uint8Array(await (await fetch(`${base}/download/${token}`)).arrayBuffer());
      expect(profileInXpi(xpi).distributorUrl).toBe(base);
    });

    it('records that URL, so cards and builds made off-line (sealcode admin) name it too', async () => {
      const seller = await openSeller(dir, { dbUrl });
      try {
        const card = await issueCard(seller, { name: 'Offline', email: 'offline@example.test', codes: 1 });
        expect(card.data.distributorUrl).toBe(base);
        expect((await redeemOffline(seller, { code: card.data.codes[0]!.code, email: 'o2@example.test' })).profile.distributorUrl).toBe(base);
      } finally {
        await seller.close();
      }
      // A hand-over text may name /redeem: it shows the code page.
      expect(await (await fetch(`${base}/redeem`)).text()).toContain('Get your sealcode add-on');
    });

    it('refuses a --public-url that is not an http(s) URL', async () => {
      for (const bad of ['codes.example.org', 'ftp://codes.example.org', 'https://codes.example.org/?x=1']) {
        const p = spawn(process.execPath, [bin, 'serve', '--data', dir, '--port', '0', '--public-url', bad, ...dbArgs()], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        p.stderr!.on('data', (d) => (err += d));
        const status = await new Promise((r) => p.once('exit', r));
        expect([bad, status]).toEqual([bad, 2]);
        expect(err).toMatch(/--public-url/);
      }
    });
  });
});
