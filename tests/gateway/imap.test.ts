// The IMAP side against a real Dovecot: every kind of message gets the right keyword
// under IDLE, plain mail is untouched, bad input gets a verdict or a logged error and the
// gateway keeps going; a gateway restart and a UIDVALIDITY change re-label nothing.
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import {
  MAIL_LOG_CONFIG,
  PASS,
  USER,
  append,
  cast,
  compose,
  doveadm,
  flagChanges,
  flagsOf,
  gatewayConfig,
  imapClient,
  ourKeywords,
  sealedMail,
  tmpDir,
  waitUntil,
  type Cast,
} from './support/fixtures.js';

let dc: Dovecot;
let c: Cast;
let client: ImapFlow;
let gw: Gateway | undefined;
let dataDir: string;
const logLines: Record<string, unknown>[] = [];
const settled = new Map<number, string | undefined>();

async function startGw(): Promise<Gateway> {
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(gatewayConfig(c, dc, dataDir)));
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void logLines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  const g = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
    logger,
    onSettled: (e) => settled.set(e.uid, e.label),
  });
  await g.ready;
  return g;
}

beforeAll(async () => {
  dc = await startDovecot({ users: [{ user: USER, pass: PASS }], extraConfig: MAIL_LOG_CONFIG });
  c = cast();
  client = await imapClient(dc);
  dataDir = tmpDir('sealcode-gw-imap-');
  gw = await startGw();
});

afterAll(async () => {
  await gw?.stop();
  await client?.logout().catch(() => {});
  await dc?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const expected: Record<number, string | undefined> = {};

describe('gateway IMAP watcher (real Dovecot)', () => {
  it('labels each kind of message under IDLE; plain mail is left untouched', async () => {
    const kinds = [
      ['card', '$SealCertified'],
      ['dedicated', '$SealCertified'],
      // Real dedicated → dedicated mail names the purchaser's card: certified unless the
      // mailbox names its owner (imap-verdict.test.ts).
      ['dedToDed', '$SealCertified'],
      ['tampered', '$SealTampered'],
      ['expired', '$SealUncertified'],
    ] as const;
    for (const [kind, kw] of kinds) expected[await append(client, await sealedMail(c, kind))] = kw;
    const plain = await append(client, await compose({ subject: 'plain', text: 'no attachment here' }));
    expected[plain] = undefined;
    // An OpenPGP attachment is not ours.
    const pgp = await append(
      client,
      await compose({ subject: 'pgp', attachments: [{ filename: 'x.pgp', content: Buffer.from('-----BEGIN PGP MESSAGE-----') }] }),
    );
    expected[pgp] = undefined;

    await waitUntil(() => Object.keys(expected).every((u) => settled.has(Number(u))), 30_000, 'all messages settled');
    const flags = await flagsOf(client);
    for (const [uid, kw] of Object.entries(expected)) {
      expect(ourKeywords(flags.get(Number(uid))!), `uid ${uid}`).toEqual(kw ? [kw] : []);
    }
    expect(flags.get(plain)).toEqual([]);
    // The verdict log line names the reason.
    const v = logLines.find((l) => l.event === 'verdict' && l.verdict === 'uncertified' && String(l.reason).includes('expired'));
    expect(v).toMatchObject({ folder: 'INBOX', sender: 'bob@example.test', origin: 'dedicated' });
    expect(gw!.metrics.registry.render()).toMatch(/sealcode_gateway_messages_total\{verdict="certified"\} 3/);
  });

  it('certifies a 30 MB sealed attachment, streamed', async () => {
    const uid = await append(client, await sealedMail(c, 'card', 30 * 1024 * 1024, 'big'));
    expected[uid] = '$SealCertified';
    await waitUntil(() => settled.has(uid), 120_000, '30 MB message');
    expect(ourKeywords((await flagsOf(client)).get(uid)!)).toEqual(['$SealCertified']);
  });

  it('bad input gets a verdict or a logged error, and the gateway keeps running', async () => {
    const random = Uint8Array.from({ length: 5000 }, () => Math.floor(Math.random() * 256));
    const uRandom = await append(client, await compose({ subject: 'random', attachments: [{ filename: 'junk.seal', content: random }] }));
    const uEmpty = await append(client, await compose({ subject: 'empty', attachments: [{ filename: 'empty.seal', content: new Uint8Array(0) }] }));
    // Malformed MIME: a multipart whose boundary never closes and whose base64 is broken.
    const malformed = Buffer.from(
      'From: x@example.test\r\nTo: alice@example.test\r\nSubject: malformed\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n' +
        '--b1\r\nContent-Type: application/x-sealcode; name="a.seal"\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not*base64%%%\r\n--b1\r\n' +
        'Content-Type: multipart/alternative; boundary=\r\n\r\ntruncated',
    );
    const uMalformed = await append(client, malformed);
    // A header bomb: thousands of header lines in front of a good attachment.
    const bombHeaders: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) bombHeaders[`X-Bomb-${i}`] = 'x'.repeat(60);
    const good = await sealedMail(c, 'card');
    const uBomb = await append(client, Buffer.concat([Buffer.from(Object.entries(bombHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join('')), good]));
    const uAfter = await append(client, await sealedMail(c, 'dedicated', 1000, 'after the bad ones'));

    await waitUntil(() => [uRandom, uEmpty, uMalformed, uBomb, uAfter].every((u) => settled.has(u)), 30_000, 'bad input settled');
    const flags = await flagsOf(client);
    expect(ourKeywords(flags.get(uRandom)!)).toEqual(['$SealTampered']);
    expect(ourKeywords(flags.get(uEmpty)!)).toEqual(['$SealTampered']);
    expect(ourKeywords(flags.get(uMalformed)!)).toEqual(['$SealTampered']);
    expect(ourKeywords(flags.get(uBomb)!)).toEqual(['$SealCertified']);
    expect(ourKeywords(flags.get(uAfter)!)).toEqual(['$SealCertified']);
    Object.assign(expected, { [uRandom]: '$SealTampered', [uEmpty]: '$SealTampered', [uMalformed]: '$SealTampered', [uBomb]: '$SealCertified', [uAfter]: '$SealCertified' });
    expect(gw!.watchers.every((w) => w.connected)).toBe(true);
  });

  it('a gateway restart re-labels nothing and picks up what arrived meanwhile', async () => {
    const before = gw!.state.labelCount();
    const changesBefore = flagChanges(dc);
    // Dovecot's own log of STOREs: one per labelled message so far.
    expect([...changesBefore.values()].every((n) => n === 1)).toBe(true);
    expect(changesBefore.size).toBe(Object.values(expected).filter(Boolean).length);
    await gw!.stop();
    const uWhileDown = await append(client, await sealedMail(c, 'expired', 1000, 'while down'));
    settled.clear();
    gw = await startGw();
    await waitUntil(() => settled.has(uWhileDown), 30_000, 'message sent while down');
    expect(ourKeywords((await flagsOf(client)).get(uWhileDown)!)).toEqual(['$SealUncertified']);
    expect(gw.state.labelCount()).toBe(before + 1);
    // Only the new message was processed: the old ones were below the saved high-water mark.
    expect([...settled.keys()]).toEqual([uWhileDown]);
    const changesAfter = flagChanges(dc);
    for (const [uid, n] of changesBefore) expect(changesAfter.get(uid), `uid ${uid}`).toBe(n);
  });

  it('a UIDVALIDITY change triggers an idempotent full re-scan', async () => {
    const labelledBefore = gw!.state.labelCount();
    await gw!.stop();
    const status = await doveadm(dc, ['-f', 'flow', 'mailbox', 'status', '-u', USER, 'uidvalidity', 'INBOX']);
    const old = Number(/uidvalidity=(\d+)/.exec(status)![1]);
    await doveadm(dc, ['mailbox', 'update', '-u', USER, '--uid-validity', String(old + 1000), 'INBOX']);
    await client.logout();
    client = await imapClient(dc);
    const uNew = await append(client, await sealedMail(c, 'card', 1000, 'after uidvalidity change'));
    const changesBefore = flagChanges(dc);
    settled.clear();
    gw = await startGw();
    const total = (await flagsOf(client)).size;
    await waitUntil(() => settled.size === total, 30_000, 'full re-scan');
    expect(logLines.some((l) => String(l.msg).includes('UIDVALIDITY changed'))).toBe(true);
    const flags = await flagsOf(client);
    expect(ourKeywords(flags.get(uNew)!)).toEqual(['$SealCertified']);
    // Every message kept exactly its one keyword; only the new one was stored to. The
    // others were checked anew (their keywords are not in the journal of the new
    // UIDVALIDITY, so not trusted), found right, and journalled without a STORE.
    for (const [uid, f] of flags) expect(ourKeywords(f).length, `uid ${uid}`).toBeLessThanOrEqual(1);
    const changesAfter = flagChanges(dc);
    const stores = [...changesAfter].filter(([uid, n]) => n !== (changesBefore.get(uid) ?? 0));
    expect(stores.map(([uid]) => uid)).toEqual([uNew]);
    const withKeyword = [...flags.values()].filter((f) => ourKeywords(f).length === 1).length;
    expect(gw!.state.labelCount()).toBe(labelledBefore + withKeyword);
  });
});
