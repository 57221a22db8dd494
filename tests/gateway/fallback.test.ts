// A Dovecot that does not offer IDLE (the polling fallback), a quarantine folder, and a
// status list that revokes a build: revoked and tampered mail is labelled and moved,
// certified mail stays where it is.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import { signStatus } from '../../card/index.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { PASS, USER, append, cast, flagsOf, gatewayConfig, imapClient, ourKeywords, sealedMail, tmpDir, waitUntil } from './support/fixtures.js';

let dc: Dovecot;
let gw: Gateway | undefined;
let dataDir: string;

beforeAll(async () => {
  dc = await startDovecot({
    users: [{ user: USER, pass: PASS }],
    // The usual capabilities, minus IDLE.
    extraConfig:
      'protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS MOVE BINARY UNSELECT NAMESPACE SPECIAL-USE CHILDREN ESEARCH\n}\n',
  });
  dataDir = tmpDir('sealcode-gw-fallback-');
});
afterAll(async () => {
  await gw?.stop();
  await dc?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('polls without IDLE, applies the status list and quarantines bad mail', async () => {
  const c = cast();
  const client = await imapClient(dc);
  expect(client.capabilities.has('IDLE')).toBe(false);
  const statusFile = path.join(dataDir, 'status.json');
  fs.writeFileSync(statusFile, JSON.stringify(signStatus(c.issuer.secretKey, { issuedAt: Date.now(), revoked: { codes: [], builds: [c.D3.buildId], cards: [] } })));
  const cfg = gatewayConfig(c, dc, dataDir, { status: { file: statusFile } });
  // Exercise the worker-thread path here (the default on two cores is inline).
  Object.assign(cfg.imap, { certifyThreads: 1 });
  Object.assign(cfg.imap.accounts[0]!, { pollSeconds: 0.5, quarantine: 'Quarantine', quarantineVerdicts: ['tampered', 'uncertified'] });
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  const lines: Record<string, unknown>[] = [];
  const settled = new Set<number>();
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
    logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }),
    onSettled: (e) => void (e.folder === 'INBOX' && settled.add(e.uid)),
  });
  await gw.ready;
  // Appended after the gateway is up: only the poll can find them.
  const good = await append(client, await sealedMail(c, 'card', 2000, 'good'));
  const revoked = await append(client, await sealedMail(c, 'dedicated3', 2000, 'revoked build'));
  const bad = await append(client, await sealedMail(c, 'tampered', 2000, 'tampered'));
  await waitUntil(() => [good, revoked, bad].every((u) => settled.has(u)), 30_000, 'polled and settled');

  const inbox = await flagsOf(client, 'INBOX');
  expect([...inbox.keys()]).toEqual([good]);
  expect(ourKeywords(inbox.get(good)!)).toEqual(['$SealCertified']);
  const q = await flagsOf(client, 'Quarantine');
  expect([...q.values()].map(ourKeywords).sort()).toEqual([['$SealTampered'], ['$SealUncertified']]);
  expect(lines.find((l) => l.event === 'verdict' && l.code === 'REVOKED')).toMatchObject({ verdict: 'uncertified', uid: revoked });
  // The certify worker ran (no fallback to the main thread was needed).
  expect(lines.some((l) => String(l.msg).includes('certify worker'))).toBe(false);
  await client.logout();
});
