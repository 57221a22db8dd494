// Real `sealcode serve` processes on one database: two on one SQLite file, four on one
// PostgreSQL. Exactly-once redemption under hundreds of simultaneous requests, SIGKILL
// during a download then resume on another process, the CLI's online commands against a
// served process, and (PostgreSQL) the database server restarted under load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { zipSync, unzipSync } from 'fflate';
import { openCardFile, profileCerts, sealCardFile, verifyStatus, type CardData, type SignedStatus } from '../../card/index.js';
import { revokeCard, revokeCode, statusList } from '../../distributor/seller/revoke.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard } from '../../distributor/seller/cards.js';
import { openStore } from '../../distributor/db/open.js';
import type { Param } from '../../distributor/db/store.js';
import { getFreePort, waitForPort } from '../support/ports.js';
import { freshDb, sharedPostgres } from '../support/databases.js';
import { BACKENDS, ROOT, builtTemplate, csrfOf, ensureBuilt, profileInXpi, settled, tokenOf } from './helpers.js';

const run = promisify(execFile);
const bin = join(ROOT, 'bin', 'sealcode.js');
const LIMITS = JSON.stringify({ redeemPerClient: { windowMs: 60000, max: 100000 }, redeemPerSerial: { windowMs: 60000, max: 100000 } });
const procs = new Set<ChildProcess>();
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
});

/** A browser session: the CSRF cookie and token (valid on every process: the key is shared). */
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

// SQLite: two processes on one file (one host). PostgreSQL: four, as on several hosts.
const SHAPE = { sqlite: { procs: 2, codes: 10, requests: 200 }, postgres: { procs: 4, codes: 20, requests: 400 } } as const;

describe.each(BACKENDS)('serve processes on one %s database', (backend) => {
  const shape = SHAPE[backend];
  const dir = mkdtempSync(join(tmpdir(), 'sealcode-procs-'));
  const bigTemplate = join(dir, 'big-template.xpi');
  let dbUrl: string | undefined;
  let alice: CardData;
  let bob: CardData;
  let carolId: string;
  let ports: number[] = [];
  const running: ChildProcess[] = [];

  async function serve(port: number): Promise<ChildProcess> {
    const p = spawn(process.execPath, [bin, 'serve', '--data', dir, '--port', String(port), '--template', bigTemplate, ...(dbUrl ? ['--db', dbUrl] : [])], {
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

  /** Reads the database as a separate client (not through any serving process). */
  async function q<T>(sql: string, ...args: Param[]): Promise<T[]> {
    const db = await openStore(dir, dbUrl);
    try {
      return await db.all<T>(sql, ...args);
    } finally {
      await db.close();
    }
  }
  const stateOf = async (serial: string) => (await q<{ state: string }>('SELECT state FROM codes WHERE serial = ?', serial))[0]!.state;

  beforeAll(async () => {
    ensureBuilt();
    dbUrl = await freshDb(backend);
    await initSeller(dir, { dbUrl });
    const seller = await openSeller(dir, { dbUrl });
    alice = (await issueCard(seller, { name: 'Alice', email: 'alice@example.test', codes: shape.codes + 2 })).data;
    bob = (await issueCard(seller, { name: 'Bob', email: 'bob@example.test', codes: 1 })).data;
    carolId = (await issueCard(seller, { name: 'Carol', email: 'carol@example.test', codes: 0 })).cardId;
    await seller.close();
    // The real template plus 24 MiB of incompressible padding: larger than what loopback
    // sockets buffer, so a download that is not read stays unfinished.
    const base = builtTemplate();
    writeFileSync(bigTemplate, zipSync({ ...unzipSync(base), 'pad.bin': [new Uint8Array(randomBytes(24 << 20)), { level: 0 }] }));
    ports = await Promise.all(Array.from({ length: shape.procs }, () => getFreePort()));
    running.push(...(await Promise.all(ports.map((p) => serve(p)))));
  }, 120_000);
  afterAll(() => {
    for (const p of running) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${shape.requests} simultaneous redemptions over ${shape.codes} codes: exactly ${shape.codes} granted, the rest refused, and the database agrees`, async () => {
    const sessions = await Promise.all(ports.map((p) => session(p)));
    const codes = alice.codes.slice(0, shape.codes);
    const results = await Promise.all(
      Array.from({ length: shape.requests }, (_, i) => {
        const k = i % ports.length;
        return redeem(ports[k]!, sessions[k]!, codes[i % codes.length]!.code, `r${i}@example.test`).then(async (r) => ({ status: r.status, body: await r.text() }));
      }),
    );
    const granted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 409);
    expect(granted).toHaveLength(shape.codes);
    expect(refused).toHaveLength(shape.requests - shape.codes);
    expect(new Set(granted.map((g) => tokenOf(g.body))).size).toBe(shape.codes);
    const rows = await q<{ serial: string; n: number; state: string }>(
      `SELECT c.serial, c.state, (SELECT COUNT(*) FROM redemptions r WHERE r.serial = c.serial) AS n FROM codes c WHERE c.serial IN (${codes.map(() => '?').join(',')})`,
      ...codes.map((c) => c.serial),
    );
    expect(rows).toHaveLength(shape.codes);
    expect(rows.every((r) => r.n === 1 && r.state === 'in_use')).toBe(true);
  }, 120_000);

  it('SIGKILL during a download: the same link resumes on another process, and after a restart; the code is never granted twice', async () => {
    const code = alice.codes[shape.codes]!;
    const [p1, p2] = [ports[0]!, ports[1]!];
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
    const killed = running[0]!;
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    req.destroy();
    const got = Buffer.concat(first);
    expect(got.length).toBeLessThan(total);
    expect(await stateOf(code.serial)).toBe('in_use');
    // The code gives nothing new, on any process: the same email gets the same link
    // back (also from the restarted one), another email is refused.
    running[0] = await serve(p1);
    const again = await redeem(p1, await session(p1), code.code, 'kay@example.test');
    expect(again.status).toBe(200);
    expect(tokenOf(await again.text())).toBe(token);
    expect((await redeem(p2, await session(p2), code.code, 'mallory@example.test')).status).toBe(409);
    // The rest of the file from another process.
    const rest = await fetch(`http://127.0.0.1:${p2}/download/${token}`, { headers: { range: `bytes=${got.length}-` } });
    expect(rest.status).toBe(206);
    const whole = Buffer.concat([got, Buffer.from(await rest.arrayBuffer())]);
    expect(whole.length).toBe(total);
    const profile = profileInXpi(new Uint8Array(whole));
    expect(profileCerts(profile).build.serial).toBe(code.serial);
    expect(await settled(() => stateOf(code.serial), 'already_used')).toBe('already_used');
    expect((await q<{ n: number }>('SELECT COUNT(*) AS n FROM redemptions WHERE serial = ?', code.serial))[0]!.n).toBe(1);
    for (const p of ports) expect((await fetch(`http://127.0.0.1:${p}/download/${token}`)).status).toBe(410);
  }, 90_000);

  it('every process signs the same status list for the same database state, with the same ETag', async () => {
    const seller = await openSeller(dir, { dbUrl });
    try {
      await revokeCode(seller, alice.codes[shape.codes - 1]!.serial);
      await revokeCard(seller, carolId);
      const lists = await Promise.all(
        ports.map(async (p) => {
          const r = await fetch(`http://127.0.0.1:${p}/api/v1/status`);
          return { etag: r.headers.get('etag'), list: verifyStatus((await r.json()) as SignedStatus, seller.issuerPub) };
        }),
      );
      const want = (await statusList(seller)).revoked;
      expect(want.codes).toContain(alice.codes[shape.codes - 1]!.serial);
      expect(want.cards).toEqual([carolId]);
      for (const l of lists) expect(l).toEqual({ etag: lists[0]!.etag, list: { issuedAt: l.list.issuedAt, revoked: want } });
    } finally {
      await seller.close();
    }
  });

  it('the CLI charges codes, pairs cards, fetches a statement and asks for a copy right', async () => {
    const p2 = ports[1]!;
    const pass = 'a card passphrase';
    const aFile = join(dir, 'alice.card');
    const bFile = join(dir, 'bob.card');
    writeFileSync(aFile, await sealCardFile(alice, pass, 1 << 12));
    writeFileSync(bFile, await sealCardFile(bob, pass, 1 << 12));
    const server = `http://127.0.0.1:${p2}`;
    const cli = async (...args: string[]) => JSON.parse((await run(process.execPath, [bin, ...args, '--json'], { env: { ...process.env, SEALCODE_PASSPHRASE: pass }, cwd: dir })).stdout);
    const charged = await cli('card', 'charge', '--card', aFile, '--count', '2', '--server', server);
    expect(charged.added).toHaveLength(2);
    expect((await openCardFile(readFileSync(aFile, 'utf8'), pass)).codes).toHaveLength(shape.codes + 4);
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
    const token = tokenOf(await (await redeem(p2, await session(p2), alice.codes[shape.codes + 1]!.code, 'lee@example.test')).text());
    const xpi = join(dir, 'lee.xpi');
    writeFileSync(xpi, Buffer.from(await (await fetch(`${server}/download/${token}`)).arrayBuffer()));
    const cr = await cli('dedicated', 'copy-right', '--build', xpi, '--copies', '1', '--server', server);
    expect(cr.code).toMatch(/^SC-/);
    await expect(cli('dedicated', 'copy-right', '--build', xpi, '--copies', '5', '--server', server)).rejects.toMatchObject({ code: 3 });
  }, 90_000);

  // Only PostgreSQL is a server that can go away while the distributors keep running.
  if (backend === 'postgres')
    it('PostgreSQL stopped and started under load: requests fail cleanly, no process dies, they succeed after, no half-written rows', async () => {
      const server = await sharedPostgres();
      const seller = await openSeller(dir, { dbUrl });
      const card = (await issueCard(seller, { name: 'Load', email: 'load@example.test', codes: 40 })).data;
      await seller.close();
      const sessions = await Promise.all(ports.map((p) => session(p)));
      const fire = (i: number) =>
        redeem(ports[i % ports.length]!, sessions[i % ports.length]!, card.codes[i]!.code, `load${i}@example.test`).then(
          async (r) => ({ i, status: r.status, body: await r.text() }),
          (e: Error) => ({ i, status: 0, body: String(e) }),
        );
      const inFlight = Array.from({ length: 20 }, (_, i) => fire(i));
      await new Promise((r) => setTimeout(r, 30));
      server.stop();
      const whileDown = await Promise.all(Array.from({ length: 10 }, (_, i) => fire(20 + i)));
      // A clear page, not a dropped connection or a hang; the load balancer is told too.
      for (const r of whileDown) {
        expect(r.status).toBe(500);
        expect(r.body).toContain('Something went wrong on our side. Wait a moment, then try again.');
      }
      for (const p of ports) {
        const h = await fetch(`http://127.0.0.1:${p}/healthz`);
        expect(h.status).toBe(503);
        expect(await h.json()).toMatchObject({ ok: false, db: { kind: 'postgres', reachable: false } });
      }
      server.start();
      const during = await Promise.all(inFlight);
      for (const r of during) expect([200, 500]).toContain(r.status);
      const after = await Promise.all(Array.from({ length: 10 }, (_, i) => fire(30 + i)));
      expect(after.map((r) => r.status)).toEqual(after.map(() => 200));
      for (const p of running) expect([p.exitCode, p.signalCode]).toEqual([null, null]);
      for (const p of ports) expect(await (await fetch(`http://127.0.0.1:${p}/healthz`)).json()).toMatchObject({ ok: true, db: { kind: 'postgres', reachable: true, schemaVersion: 9 } });
      // Every code is either untouched or granted once, whole: never a grant without its
      // state, a state without its grant, or a grant without the download's secrets.
      const rows = await q<{ serial: string; state: string; n: number; open: number }>(
        `SELECT c.serial, c.state,
           (SELECT COUNT(*) FROM redemptions r WHERE r.serial = c.serial) AS n,
           (SELECT COUNT(*) FROM redemptions r WHERE r.serial = c.serial AND r.sealed_profile IS NOT NULL AND r.token_hash IS NOT NULL AND r.sealed_token IS NOT NULL) AS open
         FROM codes c WHERE c.card_id = ?`,
        card.cardId,
      );
      expect(rows).toHaveLength(40);
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      for (const r of [...during, ...whileDown, ...after]) {
        const row = bySerial.get(card.codes[r.i]!.serial)!;
        expect([r.i, row.state === 'unused' ? 0 : 1]).toEqual([r.i, row.n]);
        expect([r.i, row.n]).toEqual([r.i, row.open]);
        if (r.status === 200) expect([r.i, row.state]).toEqual([r.i, 'in_use']);
      }
      for (const r of whileDown) expect(bySerial.get(card.codes[r.i]!.serial)).toMatchObject({ state: 'unused', n: 0 });
      // What failed can simply be tried again.
      for (const r of [...during, ...whileDown].filter((x) => x.status !== 200)) expect((await fire(r.i)).status).toBe(200);
    }, 120_000);
});
