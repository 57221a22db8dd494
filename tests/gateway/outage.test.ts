// Dovecot killed in the middle of a batch and started again: the gateway reconnects
// with backoff, catches up, and every message is labelled exactly once (counted by
// Dovecot's own log of flag changes, not by the gateway).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { doveadm, MAIL_LOG_CONFIG, PASS, USER, append, cast, flagChanges, flagsOf, gatewayConfig, imapClient, ourKeywords, sealedMail, tmpDir, waitUntil } from './support/fixtures.js';

let dc: Dovecot;
let gw: Gateway | undefined;
let dataDir: string;

beforeAll(async () => {
  dc = await startDovecot({ users: [{ user: USER, pass: PASS }], extraConfig: MAIL_LOG_CONFIG });
  dataDir = tmpDir('sealcode-gw-outage-');
});
afterAll(async () => {
  await gw?.stop();
  await dc?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('survives Dovecot stopping mid-batch: every message labelled exactly once', async () => {
  const c = cast();
  const N = 300;
  const client = await imapClient(dc);
  const kinds = ['card', 'dedicated', 'expired', 'tampered'] as const;
  const want = new Map<number, string>();
  const kw = { card: '$SealCertified', dedicated: '$SealCertified', expired: '$SealUncertified', tampered: '$SealTampered' };
  // A few distinct containers, reused: the gateway does not care that bytes repeat.
  const mails = await Promise.all(kinds.map((k) => sealedMail(c, k, 20_000)));
  for (let i = 0; i < N; i++) want.set(await append(client, mails[i % kinds.length]!), kw[kinds[i % kinds.length]!]);
  await client.logout();

  const file = path.join(dataDir, 'gateway.json');
  const cfg = gatewayConfig(c, dc, dataDir);
  // Small batches, so that the outage lands between two of them as well as inside one.
  Object.assign(cfg.imap.accounts[0]!, { batchSize: 10 });
  fs.writeFileSync(file, JSON.stringify(cfg));
  let settledCount = 0;
  let stopping: Promise<void> | undefined;
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
    onSettled: () => {
      settledCount++;
      // kill(), not stop(): `doveadm stop` leaves running imap sessions serving (seen here).
      if (settledCount === 35) stopping = dc.kill();
    },
  });
  await waitUntil(() => stopping !== undefined, 60_000, 'the first 40 messages');
  await stopping;
  const doneAtStop = settledCount;
  await new Promise((r) => setTimeout(r, 1500));
  await dc.start();
  const maxUid = Math.max(...want.keys());
  await waitUntil(() => (gw!.state.folder('alice', 'INBOX')?.lastUid ?? 0) >= maxUid, 90_000, 'caught up after the restart');

  expect(doneAtStop).toBeLessThan(N); // the outage really was mid-batch
  expect(gw.metrics.registry.value('sealcode_gateway_imap_reconnects_total', { account: 'alice', folder: 'INBOX' })).toBeGreaterThanOrEqual(1);
  const check = await imapClient(dc);
  const flags = await flagsOf(check);
  await check.logout();
  if (flags.size !== N) console.error('DIAG', await doveadm(dc, ['mailbox', 'status', '-u', USER, 'messages uidnext uidvalidity', 'INBOX']), dc.logTail(40));
  expect(flags.size).toBe(N);
  for (const [uid, f] of flags) expect(ourKeywords(f), `uid ${uid}`).toEqual([want.get(uid)]);
  const changes = flagChanges(dc);
  expect(changes.size).toBe(N);
  expect([...changes.values()].every((n) => n === 1)).toBe(true);
});
