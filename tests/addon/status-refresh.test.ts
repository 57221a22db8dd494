// Revocation as an installed build meets it, observed in a real Thunderbird 153 against a
// real distributor process (`sealcode serve` on a SQLite file) and a real Dovecot: no step
// calls the refresh function; the driver only looks at what the add-on holds.
//  - Dana's build (a test build whose timer fires every 6 s; shipped builds: hourly) learns
//    of its revocation from its own timer, keeps refusing with the distributor down, and
//    refuses an older list replayed on the distributor's address.
//  - Frank's build (hourly timer) is revoked while Thunderbird is closed: the start-up
//    refresh applies it before anything else.
// Also the banners for a sender whose card has expired and for a foreign file named .seal,
// and the purchaser's options page for a card file that names no distributor.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, sealCardFile, verifyStatus, type DedicatedProfile, type SignedStatus } from '../../card/index.js';
import { initSeller, openSeller, type Seller } from '../../distributor/seller/seller.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { revokeBuild, revokeCard } from '../../distributor/seller/revoke.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { getFreePort, waitForPort, waitForPortClosed } from '../support/ports.js';
import { PASSPHRASE, ROOT, cli, dedicatedTestXpi, mail, purchaserTestXpi } from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';

const S = { alice: 'from Alice', expired: 'from Carol, whose card has expired', foreign: 'an invoice named .seal' };
const users = ['dana@example.test', 'frank@example.test', 'gina@example.test'].map((user) => ({ user, pass: `pw-${user}` }));
/** Carol's card lives this long: she seals while it is valid, Dana reads after it expired. */
const CAROL_MS = 40_000;

let dir: string;
let data: string;
let seller: Seller;
let port: number;
let url: string;
let serveProc: ChildProcess | null = null;
let alice: IssuedCard;
let dana: DedicatedProfile;
let frank: DedicatedProfile;
let carolExpires: number;
let aliceCard: string;
let dc: Dovecot;
let sink: SmtpSink;
/** The list the distributor published before any revocation, kept to be replayed later. */
let oldList: SignedStatus;

async function serve(): Promise<void> {
  const p = spawn(process.execPath, [path.join(ROOT, 'bin', 'sealcode.js'), 'serve', '--data', data, '--port', String(port)], {
    env: { ...process.env, SEALCODE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  serveProc = p;
  await waitForPort(port, '127.0.0.1', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${err}`);
  });
}

async function stopServe(): Promise<void> {
  const p = serveProc;
  serveProc = null;
  if (!p || p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
  await waitForPortClosed(port);
}

/** A card file sealed with the test passphrase, as `admin issue-card` hands it over. */
async function cardFile(name: string, c: IssuedCard['data']): Promise<string> {
  const f = path.join(dir, `${name}.card`);
  fs.writeFileSync(f, await sealCardFile(c, PASSPHRASE, 1 << 14), { mode: 0o600 });
  return f;
}

/** The card seals `bytes` for a code serial through the CLI, as its holder would. */
async function cardSeals(card: string, serial: string, name: string, bytes: Uint8Array): Promise<Buffer> {
  const input = path.join(dir, name);
  fs.writeFileSync(input, bytes);
  const r = await cli(['card', 'encrypt', '--card', card, '--to', serial, input, '-o', `${input}.seal`], { SEALCODE_PASSPHRASE: PASSPHRASE });
  if (r.code !== 0) throw new Error(`card encrypt failed: ${r.stderr}`);
  return fs.readFileSync(`${input}.seal`);
}

const shotsInto = (): string => (process.env.SEALCODE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs') : dir);
const imapOf = (user: string) => ({ host: dc.host, port: dc.port, user, pass: `pw-${user}` });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-status-'));
  data = path.join(dir, 'seller');
  await initSeller(data);
  seller = await openSeller(data);
  port = await getFreePort();
  url = `http://127.0.0.1:${port}`;
  alice = await issueCard(seller, { name: 'Alice Example', email: 'alice@example.test', codes: 3, distributorUrl: url });
  // Carol's card, of Alice's group, expires CAROL_MS from now; she seals for Dana's code at once.
  const carol = await issueCard(seller, { name: 'Carol Example', email: 'carol@example.test', group: alice.groupId, codes: 0, validDays: CAROL_MS / 86_400_000, distributorUrl: url });
  carolExpires = Date.now() + CAROL_MS;
  const grant = await redeemOffline(seller, { code: alice.data.codes[0]!.code, email: 'dana@example.test', distributorUrl: url });
  dana = grant.profile;
  if (dana.distributorUrl !== url) throw new Error(`Dana's profile names ${dana.distributorUrl}, not the distributor`);
  const frankGrant = await redeemOffline(seller, { code: alice.data.codes[1]!.code, email: 'frank@example.test', distributorUrl: url });
  frank = frankGrant.profile;
  const fromCarol = await cardSeals(await cardFile('carol', carol.data), grant.serial, 'minutes.txt', new TextEncoder().encode('minutes of the meeting\n'.repeat(2000)));
  aliceCard = await cardFile('alice', alice.data);
  const fromAlice = await cardSeals(aliceCard, grant.serial, 'report.bin', new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff));
  const toFrank = await cardSeals(aliceCard, frankGrant.serial, 'plan.bin', new Uint8Array(50_000).fill(9));
  // A PDF someone renamed to .seal, carried as any mailer carries an attachment.
  const pdf = Buffer.from(`%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n${'0123456789'.repeat(3000)}\n%%EOF\n`);
  await serve();
  oldList = (await (await fetch(`${url}/api/v1/status`)).json()) as SignedStatus;
  [dc, sink] = await Promise.all([startDovecot({ users }), startSmtpSink()]);
  const put = async (to: string, from: string, subject: string, filename: string, content: Buffer) =>
    dc.append(to, await mail({ from, to, subject, attachments: [{ filename, content }] }));
  await put('dana@example.test', 'Alice Example <alice@example.test>', S.alice, 'report.bin.seal', fromAlice);
  await put('dana@example.test', 'Carol Example <carol@example.test>', S.expired, 'minutes.txt.seal', fromCarol);
  await put('dana@example.test', 'Alice Example <alice@example.test>', S.foreign, 'invoice.pdf.seal', pdf);
  await put('frank@example.test', 'Alice Example <alice@example.test>', S.alice, 'plan.bin.seal', toFrank);
  // Dana reads Carol's mail only once Carol's card has expired.
  await new Promise((r) => setTimeout(r, Math.max(0, carolExpires + 1000 - Date.now())));
}, 180_000);

afterAll(async () => {
  await stopServe().catch(() => undefined);
  await Promise.allSettled([dc?.dispose(), sink?.stop(), seller?.close()]);
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

const sendStep = (subject: string) => ({ op: 'send', to: ['Alice Example <alice@example.test>'], subject, attachments: [{ name: 'late.txt', size: 1000, seed: 5, type: 'text/plain' }] });

describe('revocation reaching an installed build, in a real Thunderbird against a real distributor', () => {
  let danaRun: RunResult;

  it("Dana's build: the banners for an expired sender and a foreign file; then the timer, offline and a replayed list", async () => {
    const shots = { expired: path.join(shotsInto(), 'addon-verdict-expired.png'), error: path.join(shotsInto(), 'addon-verdict-error.png') };
    let impostor: http.Server | null = null;
    danaRun = await withReportServer(async (rs) => {
      const xpi = await dedicatedTestXpi(
        path.join(dir, 'dana.xpi'),
        dana,
        rs.url,
        [
          { op: 'waitInbox', count: 3 },
          { op: 'verdicts' },
          { op: 'display', subject: S.expired, screenshot: 'expired' },
          { op: 'display', subject: S.foreign, screenshot: 'error' },
          { op: 'ask', name: 'revoke' },
          { op: 'waitStatus', until: 'revoked' },
          sendStep('after revocation'),
          { op: 'verdicts', subject: S.alice },
          { op: 'ask', name: 'offline' },
          { op: 'waitStatus', until: 'attempt' },
          sendStep('while offline'),
          { op: 'ask', name: 'rollback' },
          { op: 'waitStatus', until: 'attempt' },
          sendStep('after the replay'),
        ],
        {},
        { statusRefreshMinutes: 0.1 },
      );
      return runThunderbird({
        rs,
        xpi,
        headless: false,
        screenshots: shots,
        timeoutMs: 400_000,
        profile: { dir: path.join(dir, 'tb-dana'), imap: imapOf('dana@example.test'), smtp: { host: sink.host, port: sink.port }, identity: { name: 'Dana', email: 'dana@example.test' } },
        answers: {
          revoke: () => revokeBuild(seller, dana.buildId),
          offline: () => stopServe(),
          // Someone on the distributor's address answers the list from before the revocation.
          rollback: async () => {
            impostor = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(JSON.stringify(oldList)));
            await new Promise<void>((r) => impostor!.listen(port, '127.0.0.1', r));
          },
        },
      });
    }).finally(() => new Promise((r) => (impostor ? impostor.close(r) : r(null))));
    for (const f of Object.values(shots)) expect(fs.statSync(f).size).toBeGreaterThan(10_000);
    const waited = [0, 1, 2].map((n) => (stepResult(danaRun, 'waitStatus', n).waitedMs / 1000).toFixed(1));
    console.log(`Dana's run: ${danaRun.seconds.toFixed(1)} s; the timer took ${waited.join(' / ')} s to bring the revocation / fail offline / refuse the replay; screenshots ${Object.values(shots).join(', ')}`);
  }, 480_000);

  it('the banner for a sender whose card expired since: refused, said as an expiry, nothing opened', () => {
    const v = (stepResult(danaRun, 'verdicts', 0) as any[]).find((x) => x.subject === S.expired);
    expect(v.views[0]).toMatchObject({ kind: 'refused', code: 'EXPIRED' });
    expect(v.views[0].reason).toMatch(/the sender's card expired on/);
    expect(v.files[0]).toBeNull();
    const banner = stepResult(danaRun, 'display', 0).banner as string;
    expect(banner).toContain('Not certified: sealcode cannot vouch for who sealed minutes.txt.');
    expect(banner).toContain('The card or add-on involved has expired. It will not be opened; ask Carol Example <carol@example.test> to send it again from a current set-up.');
    expect(banner).not.toMatch(/\bOpen\b|\bSave\b/);
  });

  it('the banner for a foreign file named .seal: not readable as a sealed file, nothing opened', () => {
    const v = (stepResult(danaRun, 'verdicts', 0) as any[]).find((x) => x.subject === S.foreign);
    expect(v.views[0]).toMatchObject({ kind: 'error', code: 'UNREADABLE' });
    expect(v.views[0].reason).toMatch(/not a sealcode container/);
    expect(v.files[0]).toBeNull();
    const banner = stepResult(danaRun, 'display', 1).banner as string;
    expect(banner).toContain('sealcode could not check invoice.pdf.');
    expect(banner).toContain('It is not a sealed file this sealcode can read');
    expect(banner).toContain('ask Alice Example <alice@example.test> what they sent');
    expect(banner).not.toMatch(/Damaged|cut short|\bOpen\b|\bSave\b/);
  });

  it("the add-on's own timer brings the revocation: the send is cancelled, the mail no longer opens", () => {
    const seen = stepResult(danaRun, 'waitStatus', 0);
    expect(seen).toMatchObject({ done: true, lastAttempt: { ok: true } });
    expect(seen.revoked).toMatch(/revoked this add-on/);
    const sent = stepResult(danaRun, 'send', 0).outcome;
    expect(sent).toMatchObject({ sealed: false, cancelled: true });
    expect(sent.reason).toMatch(/revoked this add-on/);
    const v = stepResult(danaRun, 'verdicts', 1)[0];
    expect(v.views[0]).toMatchObject({ kind: 'revoked-self' });
    expect(v.files[0]).toBeNull();
  });

  it('with the distributor stopped, the timer fails and the last list keeps applying', () => {
    const off = stepResult(danaRun, 'waitStatus', 1);
    expect(off).toMatchObject({ done: true, lastAttempt: { ok: false } });
    expect(off.revoked).toMatch(/revoked this add-on/);
    expect(stepResult(danaRun, 'send', 1).outcome).toMatchObject({ sealed: false, cancelled: true });
  });

  it('an older list replayed on the distributor address is refused; the revocation stays', async () => {
    const replay = stepResult(danaRun, 'waitStatus', 2);
    expect(replay).toMatchObject({ done: true, lastAttempt: { ok: false } });
    expect(replay.lastAttempt.error).toMatch(/older than the one held/);
    expect(replay.revoked).toMatch(/revoked this add-on/);
    expect(replay.issuedAt).toBeGreaterThan(verifyStatus(oldList, fromBase64(alice.data.issuerPublicKey)).issuedAt);
    expect(stepResult(danaRun, 'send', 2).outcome).toMatchObject({ sealed: false, cancelled: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.messages).toHaveLength(0);
  });

  it("Frank's build (hourly timer): revoked while Thunderbird is closed, the start-up refresh applies it", async () => {
    await serve();
    const profile = { dir: path.join(dir, 'tb-frank'), imap: imapOf('frank@example.test'), smtp: { host: sink.host, port: sink.port }, identity: { name: 'Frank', email: 'frank@example.test' } };
    // One build, one report server: the plan's second list runs at the second launch.
    const [first, second] = await withReportServer(async (rs) => {
      const xpi = await dedicatedTestXpi(path.join(dir, 'frank.xpi'), frank, rs.url, [
        [{ op: 'waitInbox', count: 1 }, { op: 'waitStatus', until: 'attempted', timeoutS: 30 }, { op: 'verdicts' }],
        [{ op: 'waitStatus', until: 'revoked', timeoutS: 60 }, sendStep('Frank after revocation'), { op: 'verdicts' }],
      ]);
      const before = await runThunderbird({ rs, profile, xpi });
      expect(stepResult(before, 'waitStatus').revoked).toBeNull();
      expect(stepResult(before, 'waitStatus').lastAttempt).toMatchObject({ ok: true });
      expect(stepResult(before, 'verdicts')[0].views[0]).toMatchObject({ kind: 'certified' });
      await revokeBuild(seller, frank.buildId);
      rs.clear();
      return [before, await runThunderbird({ rs, profile, relaunch: true, xpi })];
    });
    const seen = stepResult(second, 'waitStatus');
    expect(seen).toMatchObject({ done: true });
    expect(seen.revoked).toMatch(/revoked this add-on/);
    // Well inside the hour: only the start-up refresh can have fetched it.
    expect(seen.lastAttempt.at).toBeGreaterThan(stepResult(first, 'waitStatus').lastAttempt.at);
    expect(stepResult(second, 'send').outcome).toMatchObject({ sealed: false, cancelled: true });
    expect(stepResult(second, 'verdicts')[0].views[0]).toMatchObject({ kind: 'revoked-self' });
  }, 300_000);

  it("the purchaser add-on (6-second test timer): Alice's card revoked at the distributor while Thunderbird runs, her own timer brings it", async () => {
    const r = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        timeoutMs: 240_000,
        xpi: await purchaserTestXpi(
          path.join(dir, 'alice.xpi'),
          rs.url,
          [
            { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
            { op: 'waitStatus', until: 'attempted', timeoutS: 60 },
            { op: 'ask', name: 'revoke' },
            { op: 'waitStatus', until: 'revoked' },
            { op: 'send', to: ['Dana <dana@example.test>'], subject: 'Alice after revocation', attachments: [{ name: 'late.txt', size: 1000, seed: 6, type: 'text/plain' }] },
          ],
          { statusRefreshMinutes: 0.1 },
        ),
        profile: { dir: path.join(dir, 'tb-alice'), imap: imapOf('gina@example.test'), smtp: { host: sink.host, port: sink.port }, identity: { name: 'Alice Example', email: 'alice@example.test' } },
        prepare: async (home) => {
          const inst = await cli(['card', 'host', '--install', '--card', aliceCard], { HOME: home });
          if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}`);
        },
        answers: { revoke: () => revokeCard(seller, alice.cardId) },
      }),
    );
    expect(stepResult(r, 'waitStatus', 0)).toMatchObject({ done: true, revoked: null, lastAttempt: { ok: true } });
    const seen = stepResult(r, 'waitStatus', 1);
    expect(seen).toMatchObject({ done: true });
    expect(seen.revoked).toMatch(/revoked this card/);
    const sent = stepResult(r, 'send').outcome;
    expect(sent).toMatchObject({ sealed: false, cancelled: true });
    expect(sent.reason).toMatch(/revoked this card/);
    console.log(`Alice's run: ${r.seconds.toFixed(1)} s; her timer brought the revocation after ${(seen.waitedMs / 1000).toFixed(1)} s`);
  }, 300_000);

  it('the options page of a card file naming no distributor speaks to someone in Thunderbird, not to a command line', async () => {
    const gina = await issueCard(seller, { name: 'Gina Example', email: 'gina@example.test', codes: 1, distributorUrl: url });
    const { distributorUrl: _, ...noUrl } = gina.data;
    const file = await cardFile('gina', noUrl);
    const r = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        xpi: await purchaserTestXpi(path.join(dir, 'gina.xpi'), rs.url, [{ op: 'unlock', passphrase: PASSPHRASE, minutes: 5 }, { op: 'options' }]),
        profile: { dir: path.join(dir, 'tb-gina'), imap: imapOf('gina@example.test'), smtp: { host: sink.host, port: sink.port }, identity: { name: 'Gina', email: 'gina@example.test' } },
        prepare: async (home) => {
          const inst = await cli(['card', 'host', '--install', '--card', file], { HOME: home });
          if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}`);
        },
      }),
    );
    const text = stepResult(r, 'options').text as string;
    expect(text).toContain('Code states not refreshed from the distributor (your card file names no distributor');
    expect(text).toContain('Ask the seller who issued your card for a card file that names its distributor');
    expect(text).toContain(`Your sealcode code: ${gina.data.codes[0]!.code} — type it on your distributor's redemption page`);
    expect(text).not.toMatch(/--distributor|give --|\(distributor URL\)/);
  }, 180_000);
});
