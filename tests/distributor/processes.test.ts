// Two real `sealcode serve` processes on one SQLite file: exactly-once redemption under
// 200 simultaneous requests, SIGKILL during a download then resume, and the CLI's online
// commands against a served process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { zipSync, unzipSync } from 'fflate';
import Database from 'better-sqlite3';
import { openCardFile, profileCerts, sealCardFile, type CardData } from '../../card/index.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard } from '../../distributor/seller/cards.js';
import { getFreePort, waitForPort } from '../support/ports.js';
import { ROOT, builtTemplate, csrfOf, ensureBuilt, profileInXpi, tokenOf } from './helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sealcode-procs-'));
const bin = join(ROOT, 'bin', 'sealcode.js');
const LIMITS = JSON.stringify({ redeemPerClient: { windowMs: 60000, max: 100000 }, redeemPerSerial: { windowMs: 60000, max: 100000 } });
const procs = new Set<ChildProcess>();
let alice: CardData;
let bob: CardData;
const bigTemplate = join(dir, 'big-template.xpi');

async function serve(port: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, [bin, 'serve', '--data', dir, '--port', String(port), '--template', bigTemplate], {
    env: { ...process.env, SEALCODE_LIMITS: LIMITS, SEALCODE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.add(p);
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  p.on('exit', () => procs.delete(p));
  await waitForPort(port, '127.0.0.1', 20_000).catch((e) => {
    throw new Error(`${e.message}\n${err}`);
  });
  return p;
}

const db = () => new Database(join(dir, 'sealcode.db'), { readonly: true });
const q = <T>(sql: string, ...args: unknown[]): T => {
  const d = db();
  try {
    return d.prepare(sql).all(...args) as T;
  } finally {
    d.close();
  }
};

/** A browser session: the CSRF cookie and token (valid on both processes: the key is shared). */
async function session(port: number): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`http://127.0.0.1:${port}/`);
  return { cookie: r.headers.getSetCookie()[0]!.split(';')[0]!, csrf: csrfOf(await r.text()) };
}
const redeem = (port: number, s: { cookie: string; csrf: string }, code: string, email: string) =>
  fetch(`http://127.0.0.1:${port}/redeem`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.cookie },
    body: new URLSearchParams({ code, email, _csrf: s.csrf }),
  });

let p1: number, p2: number;
let s1: ChildProcess;
beforeAll(async () => {
  ensureBuilt();
  initSeller(dir);
  const seller = openSeller(dir);
  alice = issueCard(seller, { name: 'Alice', email: 'alice@example.test', codes: 12 }).data;
  bob = issueCard(seller, { name: 'Bob', email: 'bob@example.test', codes: 1 }).data;
  seller.close();
  // The real template plus 24 MiB of incompressible padding: larger than what loopback
  // sockets buffer, so a download that is not read stays unfinished.
  const base = builtTemplate();
  writeFileSync(bigTemplate, zipSync({ ...unzipSync(base), 'pad.bin': [new Uint8Array(randomBytes(24 << 20)), { level: 0 }] }));
  [p1, p2] = [await getFreePort(), await getFreePort()];
  [s1] = await Promise.all([serve(p1), serve(p2)]);
}, 120_000);
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('two serve processes on one database', () => {
  it('200 simultaneous redemptions over 10 codes: exactly 10 granted, 190 refused, and the database agrees', async () => {
    const [a, b] = await Promise.all([session(p1), session(p2)]);
    const codes = alice.codes.slice(0, 10);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const port = i % 2 ? p1 : p2;
        return redeem(port, i % 2 ? a : b, codes[i % 10]!.code, `r${i}@example.test`).then(async (r) => ({ status: r.status, body: await r.text() }));
      }),
    );
    const granted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 409);
    expect(granted).toHaveLength(10);
    expect(refused).toHaveLength(190);
    expect(new Set(granted.map((g) => tokenOf(g.body))).size).toBe(10);
    const rows = q<{ serial: string; n: number; state: string }[]>(
      `SELECT c.serial, c.state, (SELECT COUNT(*) FROM redemptions r WHERE r.serial = c.serial) AS n FROM codes c WHERE c.serial IN (${codes.map(() => '?').join(',')})`,
      ...codes.map((c) => c.serial),
    );
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.n === 1 && r.state === 'in_use')).toBe(true);
  }, 60_000);

  it('SIGKILL during a download, restart: the same link resumes within the window, and the code is never granted twice', async () => {
    const code = alice.codes[10]!;
    const s = await session(p1);
    const token = tokenOf(await (await redeem(p1, s, code.code, 'kay@example.test')).text());
    // Read the start of the download, then stop reading and kill the server.
    const first: Buffer[] = [];
    let total = 0;
    const req = http.get(`http://127.0.0.1:${p1}/download/${token}`);
    await new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        total = Number(res.headers['content-length']);
        res.on('data', (c: Buffer) => {
          first.push(c);
          if (Buffer.concat(first).length >= 1 << 20) {
            res.pause();
            resolve();
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
    });
    s1.kill('SIGKILL');
    await new Promise((r) => s1.once('exit', r));
    req.destroy();
    const got = Buffer.concat(first);
    expect(got.length).toBeLessThan(total);
    expect(q<{ state: string }[]>('SELECT state FROM codes WHERE serial = ?', code.serial)[0]!.state).toBe('in_use');
    s1 = await serve(p1);
    // The code gives nothing new, on either process: the same email gets the same link
    // back, another email is refused.
    const again = await redeem(p1, await session(p1), code.code, 'kay@example.test');
    expect(again.status).toBe(200);
    expect(tokenOf(await again.text())).toBe(token);
    expect((await redeem(p2, await session(p2), code.code, 'mallory@example.test')).status).toBe(409);
    const rest = await fetch(`http://127.0.0.1:${p1}/download/${token}`, { headers: { range: `bytes=${got.length}-` } });
    expect(rest.status).toBe(206);
    const whole = Buffer.concat([got, Buffer.from(await rest.arrayBuffer())]);
    expect(whole.length).toBe(total);
    const profile = profileInXpi(new Uint8Array(whole));
    expect(profileCerts(profile).build.serial).toBe(code.serial);
    expect(q<{ state: string }[]>('SELECT state FROM codes WHERE serial = ?', code.serial)[0]!.state).toBe('already_used');
    expect(q<{ n: number }[]>('SELECT COUNT(*) AS n FROM redemptions WHERE serial = ?', code.serial)[0]!.n).toBe(1);
    expect((await fetch(`http://127.0.0.1:${p2}/download/${token}`)).status).toBe(410);
  }, 90_000);

  it('the CLI charges codes, pairs cards, fetches a statement and asks for a copy right', async () => {
    const pass = 'a card passphrase';
    const aFile = join(dir, 'alice.card');
    const bFile = join(dir, 'bob.card');
    writeFileSync(aFile, await sealCardFile(alice, pass, 1 << 12));
    writeFileSync(bFile, await sealCardFile(bob, pass, 1 << 12));
    const server = `http://127.0.0.1:${p2}`;
    const cli = async (...args: string[]) => JSON.parse((await run(process.execPath, [bin, ...args, '--json'], { env: { ...process.env, SEALCODE_PASSPHRASE: pass }, cwd: dir })).stdout);
    const charged = await cli('card', 'charge', '--card', aFile, '--count', '2', '--server', server);
    expect(charged.added).toHaveLength(2);
    expect((await openCardFile(readFileSync(aFile, 'utf8'), pass)).codes).toHaveLength(14);
    const pairFile = join(dir, 'for-bob.json');
    const paired = await cli('card', 'pair', '--card', aFile, '--with', bob.cardId, '--server', server, '--out', pairFile);
    const imported = await cli('card', 'import-pair', '--card', bFile, pairFile);
    expect(imported).toMatchObject({ pairId: paired.pairId, peerCardId: alice.cardId, imported: true });
    const [a, b] = [await openCardFile(readFileSync(aFile, 'utf8'), pass), await openCardFile(readFileSync(bFile, 'utf8'), pass)];
    expect(a.pairs[0]!.key).toBe(b.pairs[0]!.key);
    // Alice's card cannot take in Bob's copy.
    await expect(cli('card', 'import-pair', '--card', aFile, pairFile)).rejects.toMatchObject({ code: 3 });
    // No distributor there: an error, and the card file is left as it was.
    const beforeFile = readFileSync(aFile, 'utf8');
    await expect(cli('card', 'charge', '--card', aFile, '--count', '1', '--server', 'http://127.0.0.1:1')).rejects.toMatchObject({ code: 1 });
    expect(readFileSync(aFile, 'utf8')).toBe(beforeFile);
    const st = await cli('card', 'statement', '--card', aFile, '--server', server);
    expect(st).toMatchObject({ sealcode: 'statement', cardId: alice.cardId });
    // The build downloaded after the kill asks for a copy right with its XPI.
    const token = tokenOf(await (await redeem(p2, await session(p2), alice.codes[11]!.code, 'lee@example.test')).text());
    const xpi = join(dir, 'lee.xpi');
    writeFileSync(xpi, Buffer.from(await (await fetch(`${server}/download/${token}`)).arrayBuffer()));
    const cr = await cli('dedicated', 'copy-right', '--build', xpi, '--copies', '1', '--server', server);
    expect(cr.code).toMatch(/^SC-/);
    await expect(cli('dedicated', 'copy-right', '--build', xpi, '--copies', '5', '--server', server)).rejects.toMatchObject({ code: 3 });
  }, 90_000);
});
