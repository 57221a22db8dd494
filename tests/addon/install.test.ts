// A purchaser without the source: the `npm pack` tarball (its contents checked)
// installed globally into a temporary prefix as README's purchaser section says (no
// native module built), its `sealcode card host --install` registering the host in a
// temporary HOME, and the purchaser add-on in a real Thunderbird (real Dovecot, an SMTP
// sink) talking only to that installed host: after the unlock it refreshes the card's
// code states from a real distributor (the app on a real SQLite file), seals from compose
// to a redeemer's dedicated build and to an ID, opens her reply, certified, tells a damaged
// file and one sealed for someone else, and stops once the distributor revokes the card.
// The repository's own CLI plays no part on the purchaser's side.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { buildParty, cardParty, cardSecretsOf, fromBase64, openCardFile, openSealed, profileSecrets, sealCardFile, type DedicatedProfile } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { issueCard, type IssuedCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { revokeCard } from '../../distributor/seller/revoke.js';
import { redeemOfflineAsId } from '../../distributor/seller/id-mode.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { SEALED_TYPE } from '../../thunderbird-addon/manifest.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { makeServer, type TestServer } from '../distributor/helpers.js';
import { PASSPHRASE, ROOT, mail, purchaserTestXpi, sealWith } from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';

const run = promisify(execFile);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const users = ['alice@example.test'].map((user) => ({ user, pass: `pw-${user}` }));
const REPLY = 'reply from Dana';
const DAMAGED = 'a damaged file';
const ELSEWHERE = "Bob's file for his own code";
const TO_DANA = 'for Dana, from the installed package';
const TO_ERIN = 'for the ID alice-friends';
const reply = patternBytes(120_000 + 7, 21);

let dir: string;
let prefix: string;
let installedBin: string;
let packedFiles: string[];
const figures: Record<string, number> = {};
let s: TestServer;
let server: Server;
let url: string;
let alice: IssuedCard;
let dana: DedicatedProfile;
let danaSerial: string;
let erin: DedicatedProfile; // Alice's code 2, redeemed in ID mode: any card of her group may seal for "alice-friends"
let erinSerial: string;
let bobSerial: string;
let cardFile: string;
let dc: Dovecot;
let sink: SmtpSink;
let tb: RunResult;

/** The flags of README's `npm install -g … ./sealcode-VERSION.tgz` line (the purchaser's install). */
function readmeInstallFlags(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const lines = [...readme.matchAll(/^npm install -g (.*?)\.\/sealcode-[\d.]+\.tgz/gm)];
  if (lines.length !== 1) throw new Error(`README should show one purchaser install line, found ${lines.length}`);
  const flags = lines[0]![1]!.trim().split(/\s+/).filter(Boolean);
  expect(readme).toMatch(/^sealcode card host --install --card \S+$/m);
  return flags;
}

async function timed<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    figures[name] = (Date.now() - t0) / 1000;
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-install-'));
  // `npm test` built the tree (pretest); packing runs no scripts here.
  const packed = await timed('pack', () => run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT }));
  const info = JSON.parse(packed.stdout)[0] as { filename: string; files: { path: string }[] };
  packedFiles = info.files.map((f) => f.path);
  const tarball = path.join(dir, info.filename);
  prefix = path.join(dir, 'prefix');
  // README's purchaser line, as printed there, into a temporary prefix. Run from the
  // temporary folder, so no project .npmrc applies; npm's cache serves what it holds.
  await timed('install', () =>
    run('npm', ['install', '-g', '--prefix', prefix, ...readmeInstallFlags(), '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, maxBuffer: 16 << 20 }),
  );
  installedBin = path.join(prefix, 'bin', 'sealcode');

  // The seller's side: a real distributor issues Alice's card and Dana redeems one of its codes.
  s = await makeServer();
  server = s.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  alice = await issueCard(s.seller, { name: 'Alice Example', email: 'alice@example.test', codes: 3, distributorUrl: url });
  const grant = await redeemOffline(s.seller, { code: alice.data.codes[0]!.code, email: 'dana@example.test' });
  dana = grant.profile;
  danaSerial = grant.serial;
  const idGrant = await redeemOfflineAsId(s.seller, { code: alice.data.codes[2]!.code, email: 'erin@example.test', id: 'alice-friends' });
  erin = idGrant.profile;
  erinSerial = idGrant.serial;
  cardFile = path.join(dir, 'alice.card');
  fs.writeFileSync(cardFile, await sealCardFile(alice.data, PASSPHRASE, 1 << 14), { mode: 0o600 });

  [dc, sink] = await Promise.all([startDovecot({ users }), startSmtpSink()]);
  const sealed = await sealWith(buildParty(profileSecrets(dana)), [{ kind: 'code', label: danaSerial }], reply, 'answer.bin');
  const toAlice = async (from: string, subject: string, filename: string, content: Buffer) =>
    dc.append('alice@example.test', await mail({ from, to: 'alice@example.test', subject, attachments: [{ filename, content }] }));
  await toAlice('Dana <dana@example.test>', REPLY, 'answer.bin.seal', sealed);
  // A sealed file cut short on the way, and one Bob's card (another group, same distributor) sealed for his own code.
  await toAlice('Dana <dana@example.test>', DAMAGED, 'cut.bin.seal', sealed.subarray(0, 200));
  const bob = await issueCard(s.seller, { name: 'Bob Builder', email: 'bob@example.test', codes: 1, distributorUrl: url });
  bobSerial = bob.data.codes[0]!.serial;
  const forBob = await sealWith(cardParty(cardSecretsOf(bob.data)), [{ kind: 'code', label: bobSerial }], reply, 'plan.bin');
  await toAlice('Bob Builder <bob@example.test>', ELSEWHERE, 'plan.bin.seal', forBob);
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([dc?.dispose(), sink?.stop(), new Promise((r) => (server ? server.close(r) : r(null)))]);
  await s?.close();
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a purchaser installs from the packed tarball, without the source', () => {
  it("the tarball ships the built CLI, its message table, both XPIs and the pages' assets; no sources, tests or maps", () => {
    for (const f of ['bin/sealcode.js', 'build/cli/main.js', 'build/thunderbird-addon/_locales/en/messages.json', 'dist/sealcode-purchaser.xpi', 'dist/sealcode-dedicated-template.xpi', 'package.json', 'distributor/server/assets/sealcode.css', 'distributor/server/assets/local-time.js', 'distributor/server/assets/favicon.ico'])
      expect(packedFiles).toContain(f);
    expect(packedFiles.filter((f) => /\.ts$|\.map$|^tests\/|^build\/tests\/|\.png$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it("README's install line is the one run here, and it builds no native module; the card commands run without one", async () => {
    expect(readmeInstallFlags()).toEqual(['--ignore-scripts']);
    const pkg = path.join(prefix, 'lib', 'node_modules', 'sealcode');
    expect(fs.realpathSync(installedBin)).toBe(path.join(pkg, 'bin', 'sealcode.js'));
    for (const native of ['better-sqlite3', 'pkcs11js']) expect(fs.existsSync(path.join(pkg, 'node_modules', native, 'build')), native).toBe(false);
    for (const f of ['dist/sealcode-purchaser.xpi', 'build/cli/main.js']) expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'node_modules', 'typescript'))).toBe(false);
    const info = await run(installedBin, ['card', 'info', '--card', cardFile, '--json'], { env: { ...process.env, SEALCODE_PASSPHRASE: PASSPHRASE } });
    expect(JSON.parse(info.stdout)).toMatchObject({ cardId: alice.cardId });
    console.log(`npm pack ${figures.pack!.toFixed(1)} s; npm install -g --ignore-scripts ${figures.install!.toFixed(1)} s`);
  });

  it('card host --install from the installed package; the purchaser add-on refreshes the code states, seals for Dana and opens her reply, certified', async () => {
    tb = await withReportServer(async (rs) => {
      const into = process.env.SEALCODE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs') : dir;
      const shots = Object.fromEntries(['damaged', 'not-for-us', 'revoked-card'].map((n) => [n, path.join(into, `addon-purchaser-${n}.png`)]));
      const xpi = await purchaserTestXpi(path.join(dir, 'purchaser.xpi'), rs.url, [
        { op: 'waitInbox', count: 3 },
        // Never unlocked in this profile: the banner's "Unlock card…" opens the options page.
        { op: 'pressUnlock', subject: REPLY },
        { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
        // The unlock alone starts the refresh: the options page waits for it and shows its result.
        { op: 'options' },
        { op: 'syncCodes' },
        { op: 'popup', to: ['Dana <dana@example.test>'], choices: { 'dana@example.test': danaSerial } },
        { op: 'send', to: ['Dana <dana@example.test>'], subject: TO_DANA, attachments: [{ name: 'offer.txt', size: 90_000, seed: 22, type: 'text/plain' }] },
        { op: 'popup', to: ['erin@example.test'], choices: { 'erin@example.test': 'id:alice-friends' } },
        { op: 'send', to: ['erin@example.test'], subject: TO_ERIN, attachments: [{ name: 'team.txt', size: 30_000, seed: 24, type: 'text/plain' }] },
        { op: 'verdicts', subject: REPLY },
        { op: 'display', subject: DAMAGED, screenshot: 'damaged' },
        { op: 'display', subject: ELSEWHERE, screenshot: 'not-for-us' },
        // The distributor revokes Alice's card: the add-on learns it from the real status list.
        { op: 'ask', name: 'revoke' },
        { op: 'refreshStatus' },
        { op: 'send', to: ['Dana <dana@example.test>'], subject: 'after revocation', attachments: [{ name: 'late.txt', size: 1000, seed: 23, type: 'text/plain' }] },
        { op: 'display', subject: REPLY, screenshot: 'revoked-card' },
      ]);
      return runThunderbird({
        rs,
        xpi,
        headless: false,
        screenshots: shots,
        answers: { revoke: async () => revokeCard(s.seller, alice.cardId) },
        profile: { dir: path.join(dir, 'tb-alice'), imap: { host: dc.host, port: dc.port, user: 'alice@example.test', pass: 'pw-alice@example.test' }, smtp: { host: sink.host, port: sink.port }, identity: { name: 'Alice Example', email: 'alice@example.test' } },
        prepare: (home) =>
          timed('hostInstall', async () => {
            const r = await run(installedBin, ['card', 'host', '--install', '--card', cardFile, '--json'], { env: { ...process.env, HOME: home } });
            const out = JSON.parse(r.stdout) as { manifest: string; launcher: string };
            expect(out.manifest).toBe(path.join(home, '.mozilla', 'native-messaging-hosts', 'sealcode_card.json'));
            // The host Thunderbird starts is the installed package's, not this checkout's.
            const launcher = fs.readFileSync(out.launcher, 'utf8');
            expect(launcher).toContain(prefix);
            expect(launcher).not.toContain(ROOT + '/bin');
          }),
      });
    });
    expect(tb.hello.flavour).toBe('purchaser');
    expect(stepResult(tb, 'unlock')).toMatchObject({ locked: false, card: { cardId: alice.cardId } });
    console.log(`card host --install ${figures.hostInstall!.toFixed(1)} s; Thunderbird run ${tb.seconds.toFixed(1)} s`);
  }, 240_000);

  it('before the first unlock, the banner\'s "Unlock card…" button opens the options page with the passphrase form', () => {
    const p = stepResult(tb, 'pressUnlock');
    expect(p.pressed).toBe(true);
    expect(p.options).toMatch(/Passphrase/);
    expect(p.options).toMatch(/Stay unlocked for/);
    expect(p.options).not.toContain('not installed');
  });

  it("the code Dana redeemed reads already_used: in the add-on's options and in the card file", async () => {
    const synced = stepResult(tb, 'syncCodes');
    expect(synced).toMatchObject({ ok: true, distributor: url });
    expect(synced.changed).toEqual([
      { serial: danaSerial, from: 'unused', to: 'already_used' },
      { serial: erinSerial, from: 'unused', to: 'already_used' },
    ]);
    const opts = stepResult(tb, 'options').text as string;
    expect(opts).toContain('States as the distributor had them at');
    expect(opts).toMatch(new RegExp(`${danaSerial}\\s+already_used`));
    expect(opts).toMatch(new RegExp(`${alice.data.codes[1]!.serial}\\s+unused`));
    const card = await openCardFile(fs.readFileSync(cardFile, 'utf8'), PASSPHRASE);
    // Choosing the code for Dana in the compose popup afterwards keeps the distributor's word.
    expect(card.codes.find((c) => c.serial === danaSerial)?.state).toBe('already_used');
    expect(card.codes.find((c) => c.serial === alice.data.codes[1]!.serial)?.state).toBe('unused');
  });

  /** The one attachment of the mail the sink got with this subject, opened by `reader`. */
  async function openFromSink(subject: string, reader: DedicatedProfile): Promise<{ name: string; sha256: string }> {
    let raw: Buffer | undefined;
    for (let i = 0; i < 40 && !raw; i++) {
      for (const m of sink.messages) if ((await simpleParser(m.raw)).subject === subject) raw = m.raw;
      if (!raw) await new Promise((r) => setTimeout(r, 250));
    }
    if (!raw) throw new Error(`the SMTP sink got no "${subject}"`);
    const m = await simpleParser(raw);
    expect(m.attachments.map((a) => a.contentType)).toEqual([SEALED_TYPE]);
    async function* once(b: Uint8Array) {
      yield b;
    }
    const opened = await openSealed(once(new Uint8Array(m.attachments[0]!.content)), {
      receiver: buildParty(profileSecrets(reader)),
      issuerPub: fromBase64(alice.data.issuerPublicKey),
      primitives: nodePrimitives,
    });
    const parts: Uint8Array[] = [];
    for await (const c of opened.content) parts.push(c.slice());
    return { name: m.attachments[0]!.filename!, sha256: sha(Buffer.concat(parts)) };
  }

  it('the mail sealed from compose opens with Dana’s dedicated build, certified as from Alice’s card', async () => {
    expect(stepResult(tb, 'send').outcome).toMatchObject({ sealed: true, cancelled: false });
    expect(await openFromSink(TO_DANA, dana)).toEqual({ name: 'offer.txt.seal', sha256: sha(patternBytes(90_000, 22)) });
  });

  it('sealed from compose for an ID: the ID-mode build redeemed under it opens it; Dana’s build does not', async () => {
    expect(stepResult(tb, 'popup', 1).remembered['erin@example.test']).toEqual({ kind: 'id', label: 'alice-friends' });
    expect(stepResult(tb, 'send', 1).outcome).toMatchObject({ sealed: true, cancelled: false });
    expect(await openFromSink(TO_ERIN, erin)).toEqual({ name: 'team.txt.seal', sha256: sha(patternBytes(30_000, 24)) });
    await expect(openFromSink(TO_ERIN, dana)).rejects.toMatchObject({ code: 'NOT_FOR_US' });
  });

  it("Dana's reply, sealed by her dedicated build, is certified and opened through the installed host", () => {
    const [v] = stepResult(tb, 'verdicts') as { views: any[]; files: any[] }[];
    expect(v!.views[0]).toMatchObject({ kind: 'certified', origin: 'dedicated' });
    expect(v!.views[0].sealedBy).toContain(dana.buildId);
    expect(v!.files[0]).toEqual({ name: 'answer.bin', size: reply.length, sha256: sha(reply) });
  });

  it("banners in Thunderbird: a damaged file, a file sealed for someone else (its origin certified), each said in people's words", () => {
    const damaged = stepResult(tb, 'display', 0).banner as string;
    expect(damaged).toContain('Damaged: cut.bin is not a readable sealed file.');
    expect(damaged).toContain('Ask Dana <dana@example.test> to send it again');
    expect(damaged).not.toMatch(/Open|Save/);
    const elsewhere = stepResult(tb, 'display', 1).banner as string;
    expect(elsewhere).toContain('Sealed for someone else: plan.bin cannot be opened here.');
    expect(elsewhere).toContain('It comes from the card of Bob Builder <bob@example.test> (origin certified)');
    expect(elsewhere).toContain(bobSerial);
    expect(elsewhere).not.toMatch(/Open|Save/);
  });

  it("once the distributor revokes Alice's card, the add-on refuses to seal and opens nothing, and says why", async () => {
    expect(stepResult(tb, 'refreshStatus')).toMatchObject({ ok: true, changed: true });
    const refused = stepResult(tb, 'send', 2).outcome;
    expect(refused).toMatchObject({ sealed: false, cancelled: true });
    expect(refused.reason).toMatch(/revoked this card/);
    const banner = stepResult(tb, 'display', 2).banner as string;
    expect(banner).toContain('Not opened: your card was revoked by its distributor (answer.bin).');
    await new Promise((r) => setTimeout(r, 500));
    for (const m of sink.messages) expect((await simpleParser(m.raw)).subject).not.toBe('after revocation');
  });
});
