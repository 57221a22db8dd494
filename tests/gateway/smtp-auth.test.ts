// Failed AUTH against the real listener: a few tries per connection, then 421 and the
// connection is closed; past the failure budget the client address and the user name
// are locked out (the right password too) until the window ends; then it works again.
// The log gets one summary line per burst, not a line per try, and never a password.
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { getFreePort } from '../support/ports.js';
import { cast, tmpDir, waitUntil, writeCardFile } from './support/fixtures.js';
import { Dialogue } from './support/smtp-dialogue.js';

let gw: Gateway;
let dataDir: string;
const logs: { msg: string; [k: string]: unknown }[] = [];
const raw: string[] = [];
const LOCKOUT_S = 2;

beforeAll(async () => {
  const c = cast();
  dataDir = tmpDir('sealcode-gw-smtp-auth-');
  const cardFile = await writeCardFile(c, dataDir, 'card pass');
  const cfg = {
    issuerPublicKey: c.issuerPubB64,
    dataDir,
    admin: { port: 0 },
    smtp: {
      listen: { host: '127.0.0.1', port: await getFreePort() },
      // Plaintext here only to keep the brute force cheap; the STARTTLS rule is tested in smtp.test.ts.
      allowPlaintextOnLoopback: true,
      users: [{ user: 'bob', password: 'right-pw' }, { user: 'carol', password: 'carol-pw' }],
      upstream: { host: '127.0.0.1', port: await getFreePort() },
      card: { file: cardFile, passphrase: 'card pass' },
      auth: { maxTriesPerConnection: 2, maxFailures: 4, windowSeconds: 60, lockoutSeconds: LOCKOUT_S, delayMs: 20, maxDelayMs: 100, burstQuietSeconds: 0.5 },
    },
  };
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const logger = pino({ level: 'info' }, { write: (s: string) => (raw.push(s), logs.push(JSON.parse(s))) });
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), { logger });
});

afterAll(async () => {
  await gw?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('brute force: disconnected after a few tries, locked out (address and user), right password works after the window, log bounded', async () => {
  const port = gw.smtp!.port;
  const tries: number[][] = [];
  // Three connections of wrong passwords: 535, then 421 and the server hangs up.
  for (let conn = 0; conn < 2; conn++) {
    const { d } = await Dialogue.open(port);
    expect((await d.cmd('EHLO client.test')).lines).toContain('AUTH PLAIN LOGIN');
    const codes = [(await d.auth('bob', `guess-${conn}-a`)).code, (await d.auth('bob', `guess-${conn}-b`)).code];
    codes.push((await d.cmd('NOOP')).code); // 0: the connection is gone
    tries.push(codes);
    expect(d.closed).toBe(true);
    d.close();
  }
  expect(tries).toEqual([
    [535, 421, 0],
    [535, 421, 0],
  ]);
  // The fifth failure passes the budget of four: locked out.
  const { d: d3 } = await Dialogue.open(port);
  await d3.cmd('EHLO client.test');
  const fifth = await d3.auth('bob', 'guess-5');
  expect(fifth.code).toBe(421);
  d3.close();

  // Now even the right password is refused, from this address for anyone…
  const { d: d4 } = await Dialogue.open(port);
  await d4.cmd('EHLO client.test');
  const locked = await d4.auth('bob', 'right-pw');
  expect(locked.code).toBe(421);
  expect(locked.lines.join(' ')).toMatch(/Too many failed logins, try again in \d+ s/);
  d4.close();
  const { d: d5 } = await Dialogue.open(port);
  await d5.cmd('EHLO client.test');
  expect((await d5.auth('carol', 'carol-pw')).code).toBe(421);
  d5.close();
  // …and for user bob from another address, while carol from there is fine.
  const { d: d6 } = await Dialogue.open(port, '127.0.0.2');
  await d6.cmd('EHLO client.test');
  expect((await d6.auth('bob', 'right-pw')).code).toBe(421);
  d6.close();
  const { d: d7 } = await Dialogue.open(port, '127.0.0.2');
  await d7.cmd('EHLO client.test');
  expect((await d7.auth('carol', 'carol-pw')).code).toBe(235);
  d7.close();

  // After the lock-out window the right password works again.
  const lockedAt = Date.now();
  let ok = 0;
  await waitUntil(
    async () => {
      const { d } = await Dialogue.open(port);
      await d.cmd('EHLO client.test');
      ok = (await d.auth('bob', 'right-pw')).code;
      d.close();
      return ok === 235;
    },
    (LOCKOUT_S + 8) * 1000,
    'bob can log in after the lock-out',
  );
  expect(Date.now() - lockedAt).toBeGreaterThan((LOCKOUT_S - 1) * 1000);

  // One summary line for the burst from 127.0.0.1 (plus one for 127.0.0.2's refusal), not one per try.
  await waitUntil(() => logs.some((l) => l.msg === 'smtp authentication failures' && l.address === '127.0.0.1'), 10_000, 'burst summary');
  const summaries = logs.filter((l) => l.msg === 'smtp authentication failures');
  expect(summaries.length).toBeLessThanOrEqual(3);
  const local = summaries.filter((l) => l.address === '127.0.0.1');
  expect(local.reduce((n, l) => n + (l.failures as number), 0)).toBe(5);
  expect(local.some((l) => l.lockedOut === true)).toBe(true);
  expect(logs.filter((l) => /auth/i.test(l.msg)).length).toBe(summaries.length);
  expect(raw.join('')).not.toMatch(/guess-|right-pw|carol-pw/);
  const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
  expect(metrics).toMatch(/sealcode_gateway_smtp_auth_failures_total\{result="wrong"\} 5/);
});
