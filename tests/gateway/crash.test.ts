// The gateway as the admin runs it (`node bin/sealcode.js gateway --config ...`), killed
// with SIGKILL: a message acknowledged on submission is delivered after the restart,
// exactly once; an IMAP batch interrupted by the kill is finished after the restart with
// every message labelled exactly once (Dovecot's flag-change log is the witness).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { getFreePort, waitForPort } from '../support/ports.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import {
  MAIL_LOG_CONFIG,
  PASS,
  USER,
  append,
  cast,
  flagChanges,
  flagsOf,
  gatewayConfig,
  imapClient,
  ourKeywords,
  sealedMail,
  tmpDir,
  waitUntil,
  writeCardFile,
  type Cast,
} from './support/fixtures.js';

const root = path.resolve(import.meta.dirname, '../..');
let dc: Dovecot;
let c: Cast;
let dataDir: string;
let configFile: string;
let smtpPort: number;
let sinkPort: number;
let sink: SmtpSink | undefined;
let child: ChildProcess | undefined;
const output: string[] = [];

function startChild(): ChildProcess {
  const p = spawn(process.execPath, [path.join(root, 'bin/sealcode.js'), 'gateway', '--config', configFile], {
    cwd: root,
    env: { ...process.env, GW_CARD_PASS: 'gateway card pass' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  p.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  p.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return p;
}

async function kill9(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

beforeAll(async () => {
  // `npm test` builds first; a direct vitest run rebuilds when the gateway sources are newer.
  const built = path.join(root, 'build/gateway/service.js');
  const newest = Math.max(
    ...fs.readdirSync(path.join(root, 'gateway'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => fs.statSync(path.join(root, 'gateway', f)).mtimeMs),
  );
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newest) {
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  c = cast();
  dc = await startDovecot({ users: [{ user: USER, pass: PASS }], extraConfig: MAIL_LOG_CONFIG });
  dataDir = tmpDir('sealcode-gw-crash-');
  smtpPort = await getFreePort();
  sinkPort = await getFreePort();
  const cardFile = await writeCardFile(c, dataDir, 'gateway card pass');
  configFile = path.join(dataDir, 'gateway.json');
  const cfg = gatewayConfig(c, dc, path.join(dataDir, 'state'), {
        log: { level: 'info' },
        smtp: {
          listen: { host: '127.0.0.1', port: smtpPort },
          users: [{ user: 'bob', password: 'pw' }],
          allowPlaintextOnLoopback: true,
          upstream: { host: '127.0.0.1', port: sinkPort },
          card: { file: cardFile, passphrase: { env: 'GW_CARD_PASS' } },
          mappings: [{ match: 'dana@partner.test', label: c.serialA }],
          retry: { firstSeconds: 0.2, maxSeconds: 0.5, giveUpHours: 1 },
        },
      });
  // Small batches, so that a kill lands between two of them.
  Object.assign(cfg.imap.accounts[0]!, { batchSize: 10 });
  fs.writeFileSync(configFile, JSON.stringify(cfg));
});

afterAll(async () => {
  if (child) await kill9(child);
  await sink?.stop();
  await dc?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('--check-config validates and names the bad field', () => {
  const ok = spawnSync(process.execPath, ['bin/sealcode.js', 'gateway', '--config', configFile, '--check-config'], {
    cwd: root,
    env: { ...process.env, GW_CARD_PASS: 'x' },
    encoding: 'utf8',
  });
  expect(ok.status).toBe(0);
  expect(ok.stdout).toMatch(/is valid/);
  const bad = path.join(dataDir, 'bad.json');
  const cfg = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  cfg.imap.accounts[0].port = 'imap';
  fs.writeFileSync(bad, JSON.stringify(cfg));
  const r = spawnSync(process.execPath, ['bin/sealcode.js', 'gateway', '--config', bad, '--check-config'], { cwd: root, encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/imap\.accounts\[0\]\.port/);
});

it('SIGKILL after the ack: delivered after the restart, exactly once', async () => {
  child = startChild();
  await waitForPort(smtpPort, '127.0.0.1', 20_000);
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true, auth: { user: 'bob', pass: 'pw' } });
  const info = await t.sendMail({
    from: 'bob@example.test',
    to: 'dana@partner.test',
    subject: 'acknowledged, then killed',
    text: 'hi',
    attachments: [{ filename: 'a.txt', content: 'secret' }],
  });
  expect(info.response).toMatch(/Queued as/);
  await kill9(child);
  sink = await startSmtpSink({ port: sinkPort });
  child = startChild();
  const [msg] = await sink.waitFor(1, 30_000);
  expect(msg!.raw.toString()).toContain('a.txt.seal');
  await new Promise((r) => setTimeout(r, 1500));
  expect(sink.messages).toHaveLength(1);
  await kill9(child);
  child = undefined;
});

it('SIGKILL in the middle of an IMAP batch: every message labelled exactly once after the restart', async () => {
  const N = 200;
  const client = await imapClient(dc);
  const mails = await Promise.all((['card', 'expired'] as const).map((k) => sealedMail(c, k, 20_000)));
  const uids: number[] = [];
  for (let i = 0; i < N; i++) uids.push(await append(client, mails[i % 2]!));
  child = startChild();
  await waitUntil(() => flagChanges(dc).size >= 30, 60_000, '30 labels');
  await kill9(child);
  const atKill = flagChanges(dc).size;
  child = startChild();
  await waitUntil(async () => [...(await flagsOf(client)).values()].every((f) => ourKeywords(f).length > 0), 90_000, 'all labelled');
  await kill9(child);
  child = undefined;
  expect(atKill).toBeLessThan(N);
  const flags = await flagsOf(client);
  for (const [i, uid] of uids.entries()) expect(ourKeywords(flags.get(uid)!), `uid ${uid}`).toEqual([i % 2 ? '$SealUncertified' : '$SealCertified']);
  const changes = flagChanges(dc);
  expect(changes.size).toBe(N);
  expect([...changes.values()].every((n) => n === 1)).toBe(true);
  await client.logout();
});

it('stops cleanly on SIGTERM (exit 0, "gateway stopped" logged)', async () => {
  output.length = 0;
  const p = startChild();
  child = p;
  await waitForPort(smtpPort, '127.0.0.1', 20_000);
  await waitUntil(() => output.join('').includes('imap folder watched'), 20_000, 'the watcher connected');
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  expect(await exited).toBe(0);
  child = undefined;
  expect(output.join('')).toContain('"msg":"gateway stopped"');
});
