// End to end in a real Thunderbird (headless, and once under Xvfb for a screenshot),
// against a real Dovecot and an SMTP sink: the purchaser add-on with Alice's card behind
// the native host, and the dedicated build stamped for Dana. The test builds carry a
// driver that acts through the add-on's own code paths (compose.sendMessage → the real
// onBeforeSend; verdictsFor → the real messages.getAttachmentFile) and reports back.
// The distributor's status endpoint is a loopback server answering issuer-signed lists.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser, type ParsedMail } from 'mailparser';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { buildParty, openCardFile, openSealed, profileSecrets, signStatus, toBase64, type DedicatedProfile } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { SEALED_TYPE, PURCHASER_ID } from '../../thunderbird-addon/manifest.js';
import {
  PASSPHRASE,
  ROOT,
  aliceParty,
  cli,
  dedicatedTestXpi,
  mail,
  makeAddonWorld,
  purchaserTestXpi,
  sealWith,
  type AddonWorld,
} from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';
import { startStatusServer, type StatusServer } from './support/status-server.js';

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const MB = 1024 * 1024;
const users = ['alice@example.test', 'dana@example.test', 'erin@example.test'].map((user) => ({ user, pass: `pw-${user}` }));
const S = {
  alice: 'from Alice card',
  copy: 'illegal copy',
  tampered: 'tampered',
  purchaser: 'from the purchaser add-on',
  danaTwo: 'two from Dana',
  erin: 'Erin after expiry',
  group: 'for the group',
  pair: 'for the pair',
  signed: 'signed only',
  revoked: 'after revocation',
};

let dir: string;
let w: AddonWorld;
let dc: Dovecot;
let sink: SmtpSink;
let status: StatusServer;
let dana: DedicatedProfile; // w.dana, naming the status server as its distributor
let issuerFile: string;
let bigSealed: Buffer;
let danaInbox = 3; // + the purchaser add-on's mail once it arrived
const files = {
  report: patternBytes(300 * 1024 + 17, 1),
  big: patternBytes(25 * MB, 2),
};

const imapOf = (user: string) => ({ host: dc.host, port: dc.port, user, pass: `pw-${user}` });
const smtpOf = () => ({ host: sink.host, port: sink.port });

async function sinkMessage(subject: string): Promise<ParsedMail> {
  for (let i = 0; i < 120; i++) {
    for (const m of sink.messages) {
      const p = await simpleParser(m.raw);
      if (p.subject === subject) return p;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the SMTP sink got no message "${subject}"`);
}
const rawOf = async (subject: string): Promise<Buffer> => {
  for (const m of sink.messages) if ((await simpleParser(m.raw)).subject === subject) return m.raw;
  throw new Error(`no raw message "${subject}"`);
};

/** Alice's card seals for Dana's code through the CLI, as a purchaser would. */
async function aliceSeals(data: Uint8Array, name: string): Promise<Buffer> {
  const input = path.join(dir, name);
  fs.writeFileSync(input, data);
  const out = `${input}.seal`;
  const r = await cli(['card', 'encrypt', '--card', w.cardFile, '--to', w.serial, input, '-o', out], { SEALCODE_PASSPHRASE: PASSPHRASE });
  if (r.code !== 0) throw new Error(`sealcode card encrypt failed: ${r.stderr}`);
  return fs.readFileSync(out);
}

/** A status list as the distributor publishes it, signed by the issuer. */
const statusList = (issuedAt: number, builds: string[] = []) => signStatus(w.issuer.secretKey, { issuedAt, revoked: { codes: [], builds, cards: [] } });
const shotsInto = (): string => (process.env.SEALCODE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs') : dir);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-addon-e2e-'));
  status = await startStatusServer();
  w = await makeAddonWorld(dir, { distributorUrl: status.url });
  dana = { ...w.dana, distributorUrl: status.url };
  status.serve(statusList(Date.now() - 60_000));
  issuerFile = path.join(dir, 'issuer.pub');
  fs.writeFileSync(issuerFile, toBase64(w.issuer.publicKey));
  [dc, sink] = await Promise.all([startDovecot({ users }), startSmtpSink()]);
  const danaAddr = 'dana@example.test';
  const copyParty = buildParty(profileSecrets(w.danaCopy));
  const fromAlice = await aliceSeals(files.report, 'report.bin');
  const tampered = Buffer.from(await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], files.report, 'report.bin'));
  tampered[Math.floor(tampered.length / 2)]! ^= 0x40;
  const copy = await sealWith(copyParty, [{ kind: 'code', label: w.serial }], files.report, 'report.bin');
  bigSealed = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], files.big, 'big.bin');
  const put = async (subject: string, filename: string, content: Buffer) =>
    dc.append(danaAddr, await mail({ from: 'Alice Example <alice@example.test>', to: danaAddr, subject, attachments: [{ filename, content }] }));
  await put(S.alice, 'report.bin.seal', fromAlice);
  await put(S.copy, 'report.bin.seal', copy);
  await put(S.tampered, 'report.bin.seal', tampered);
  const forErin = await sealWith(aliceParty(w), [{ kind: 'code', label: w.alice.data.codes[1]!.serial }], files.report, 'report.bin');
  await dc.append('erin@example.test', await mail({ from: 'alice@example.test', to: 'erin@example.test', subject: S.erin, attachments: [{ filename: 'report.bin.seal', content: forErin }] }));
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([dc?.dispose(), sink?.stop(), status?.stop()]);
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

const bob = 'bob@example.test';

/** Opens with Bob's card through the CLI: the other side of group and pair mail. */
async function bobOpens(subject: string, expected: Uint8Array): Promise<string> {
  const m = await sinkMessage(subject);
  expect(m.headers.get('x-sealcode')).toMatch(/origin=card/);
  const input = path.join(dir, `bob-${subject.replace(/\W/g, '_')}.seal`);
  fs.writeFileSync(input, m.attachments[0]!.content);
  const out = `${input}.out`;
  const r = await cli(['card', 'decrypt', '--card', w.bobCardFile, input, '-o', out], { SEALCODE_PASSPHRASE: PASSPHRASE });
  expect(r.code, r.stderr).toBe(0);
  expect(sha(fs.readFileSync(out))).toBe(sha(expected));
  return r.stdout;
}

describe('the add-on in a real Thunderbird', () => {
  let danaRun: RunResult;
  let sending: RunResult;

  it('purchaser add-on, with the card behind the native host, seals from compose for a code, the group, a pair key and signature-only', async () => {
    sending = await withReportServer(async (rs) => {
      const xpi = await purchaserTestXpi(path.join(dir, 'purchaser.xpi'), rs.url, [
        { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
        // The compose popup itself, filled in as a person would.
        { op: 'popup', to: ['Dana <dana@example.test>'], choices: { 'dana@example.test': w.serial } },
        { op: 'send', to: ['Dana <dana@example.test>'], subject: S.purchaser, attachments: [{ name: 'notes.txt', size: 200_000, seed: 3, type: 'text/plain' }] },
        { op: 'send', to: ['dana@example.test'], subject: 'switched off', seal: false, attachments: [{ name: 'plain.txt', size: 100, seed: 8, type: 'text/plain' }] },
        { op: 'popup', to: [`Bob <${bob}>`], choices: { [bob]: 'group' } },
        { op: 'send', to: [`Bob <${bob}>`], subject: S.group, attachments: [{ name: 'g.bin', size: 50_000, seed: 11 }] },
        { op: 'popup', to: [bob], choices: { [bob]: `pair:${w.pairId}` } },
        { op: 'send', to: [bob], subject: S.pair, attachments: [{ name: 'p.bin', size: 40_000, seed: 12 }] },
        { op: 'popup', to: [bob], choices: { [bob]: 'sign-only' } },
        { op: 'send', to: [bob], subject: S.signed, attachments: [{ name: 's.txt', size: 30_000, seed: 13, type: 'text/plain' }] },
        { op: 'recipients' },
      ]);
      return runThunderbird({
        rs,
        xpi,
        profile: { dir: path.join(dir, 'tb-alice'), imap: imapOf('alice@example.test'), smtp: smtpOf(), identity: { name: 'Alice Example', email: 'alice@example.test' } },
        prepare: async (home) => {
          const inst = await cli(['card', 'host', '--install', '--card', w.cardFile, '--json'], { HOME: home });
          if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}${inst.stdout}`);
        },
      });
    });
    const r = sending;
    expect(r.hello.flavour).toBe('purchaser');
    const unlocked = stepResult(r, 'unlock');
    expect(unlocked.locked).toBe(false);
    expect(unlocked.card.cardId).toBe(w.alice.data.cardId);
    const sent = stepResult(r, 'send');
    expect(sent.outcome).toMatchObject({ sealed: true, cancelled: false });
    const m = await sinkMessage(S.purchaser);
    expect(m.headers.get('x-sealcode')).toMatch(/origin=card/);
    expect(m.attachments.map((a) => [a.filename, a.contentType])).toEqual([['notes.txt.seal', SEALED_TYPE]]);
    // The content is sealed, not the text we attached.
    const opened = await openSealed(once(new Uint8Array(m.attachments[0]!.content)), {
      receiver: buildParty(profileSecrets(w.dana)),
      issuerPub: w.issuer.publicKey,
      primitives: nodePrimitives,
    });
    const parts: Uint8Array[] = [];
    for await (const c of opened.content) parts.push(c.slice());
    expect(sha(Buffer.concat(parts))).toBe(sha(patternBytes(200_000, 3)));
    // Sealing switched off in the compose popup for one message: sent as it was.
    expect(stepResult(r, 'send', 1).outcome).toMatchObject({ sealed: false, cancelled: false });
    const plain = await sinkMessage('switched off');
    expect(plain.attachments.map((a) => a.filename)).toEqual(['plain.txt']);
    expect(plain.headers.get('x-sealcode')).toBeUndefined();
    await dc.append('dana@example.test', await rawOf(S.purchaser));
    danaInbox++;
    console.log(`purchaser run: ${r.seconds.toFixed(1)} s`);
  }, 180_000);

  it('the compose popup offers every way of sealing and remembers each choice per recipient', () => {
    expect(stepResult(sending, 'popup', 1).remembered[bob]).toEqual({ kind: 'group', label: w.alice.data.groupId });
    expect(stepResult(sending, 'popup', 2).remembered[bob]).toEqual({ kind: 'pair', label: w.pairId });
    expect(stepResult(sending, 'popup', 3).remembered[bob]).toEqual({ kind: 'sign', label: '' });
  });

  it('the code handed to Dana is written back to the card file through the host (given, with her address)', async () => {
    const popup = stepResult(sending, 'popup', 0);
    expect(popup.remembered['dana@example.test']).toEqual({ kind: 'code', label: w.serial });
    expect(popup.text).toContain('Seal for');
    const card = await openCardFile(fs.readFileSync(w.cardFile, 'utf8'), PASSPHRASE);
    expect(card.codes.find((c) => c.serial === w.serial)).toMatchObject({ state: 'given', givenTo: 'dana@example.test' });
    // The other codes were not handed over and stay as they were.
    expect(card.codes.filter((c) => c.serial !== w.serial).map((c) => c.state)).toEqual(['unused', 'unused']);
    // Group, pair and sign-only choices are remembered per recipient (the last one chosen for Bob).
    expect(stepResult(sending, 'recipients')[bob]).toEqual({ kind: 'sign', label: '' });
  });

  it("group and pair mail sealed from compose opens with Bob's card, certified as from Alice's card", async () => {
    for (const [subject, seed, size] of [[S.group, 11, 50_000], [S.pair, 12, 40_000]] as const) {
      expect(stepResult(sending, 'send', subject === S.group ? 2 : 3).outcome).toMatchObject({ sealed: true, cancelled: false });
      const out = await bobOpens(subject, patternBytes(size, seed));
      expect(out).toMatch(/^Certified: .* comes from the card of Alice Example <alice@example\.test>\./m);
    }
    const g = await sinkMessage(S.group);
    const o = await openSealed(once(new Uint8Array(g.attachments[0]!.content)), { receiver: aliceParty(w), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    expect(o.header.stanzas.map((x) => [x.kind, x.label])).toEqual([['group', w.alice.data.groupId]]);
    const p = await sinkMessage(S.pair);
    const op = await openSealed(once(new Uint8Array(p.attachments[0]!.content)), { receiver: aliceParty(w), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    expect(op.header.stanzas.map((x) => [x.kind, x.label])).toEqual([['pair', w.pairId]]);
  });

  it('signature-only mail sealed from compose verifies keylessly as from Alice, readable by anyone', async () => {
    expect(stepResult(sending, 'send', 4).outcome).toMatchObject({ sealed: true, cancelled: false });
    const m = await sinkMessage(S.signed);
    expect(m.headers.get('x-sealcode')).toMatch(/sign-only/);
    const input = path.join(dir, 's.txt.seal');
    fs.writeFileSync(input, m.attachments[0]!.content);
    const r = await cli(['verify', '--issuer', issuerFile, input]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Certified: s\.txt comes from the card of Alice Example/m);
    expect(r.stdout).toContain('signed only (not encrypted)');
  });

  it("dedicated add-on (stamped for Dana) runs its scenario: certifies, opens, refuses, sends; banners in people's words", async () => {
    const shots = Object.fromEntries(['certified', 'refused', 'tampered', 'revoked-self'].map((n) => [n, path.join(shotsInto(), `addon-verdict-${n}.png`)]));
    const downloads = path.join(dir, 'downloads');
    fs.mkdirSync(downloads);
    danaRun = await withReportServer(async (rs) => {
      const xpi = await dedicatedTestXpi(path.join(dir, 'dana.xpi'), dana, rs.url, [
        { op: 'waitInbox', count: danaInbox },
        { op: 'verdicts' },
        { op: 'display', subject: S.alice, screenshot: 'certified' },
        { op: 'display', subject: S.copy, screenshot: 'refused' },
        { op: 'display', subject: S.tampered, screenshot: 'tampered' },
        { op: 'openButton', subject: S.alice },
        { op: 'openButton', subject: S.tampered },
        { op: 'verdicts', subject: S.alice, cached: true },
        { op: 'saveAfterSuspend', subject: S.alice },
        // The banner's own Save button; the file lands in the download folder.
        { op: 'pressSave', subject: S.alice },
        { op: 'ask', name: 'saved' },
        { op: 'options' },
        {
          op: 'send',
          to: ['Alice Example <alice@example.test>'],
          subject: S.danaTwo,
          attachments: [
            { name: 'a.pdf', size: 150_000, seed: 4, type: 'application/pdf' },
            { name: 'b.txt', size: 70_001, seed: 5, type: 'text/plain' },
          ],
        },
        { op: 'perf', mb: 25, sealed: 'perf/big.bin.seal' },
        // The distributor revokes this build; the add-on learns it on its next refresh.
        { op: 'ask', name: 'revoke' },
        { op: 'refreshStatus' },
        { op: 'send', to: ['alice@example.test'], subject: S.revoked, attachments: [{ name: 'late.txt', size: 1000, seed: 14 }] },
        { op: 'verdicts', subject: S.alice },
        { op: 'display', subject: S.alice, screenshot: 'revoked-self' },
        // An older list (a replay) is refused; offline, the last list still holds.
        { op: 'ask', name: 'rollback' },
        { op: 'refreshStatus' },
        { op: 'ask', name: 'offline' },
        { op: 'refreshStatus' },
        { op: 'send', to: ['alice@example.test'], subject: S.revoked, attachments: [{ name: 'late.txt', size: 1000, seed: 14 }] },
      ], { 'perf/big.bin.seal': new Uint8Array(bigSealed) });
      const before = Date.now() - 60_000;
      return runThunderbird({
        rs,
        xpi,
        headless: false,
        screenshots: shots,
        timeoutMs: 200_000,
        profile: {
          dir: path.join(dir, 'tb-dana'),
          imap: imapOf('dana@example.test'),
          smtp: smtpOf(),
          identity: { name: 'Dana', email: 'dana@example.test' },
          prefs: { 'browser.download.folderList': 2, 'browser.download.dir': downloads, 'browser.download.useDownloadDir': true },
        },
        answers: {
          saved: async () => {
            for (let i = 0; i < 80 && !fs.existsSync(path.join(downloads, 'report.bin')); i++) await new Promise((res) => setTimeout(res, 250));
          },
          revoke: async () => status.serve(statusList(Date.now(), [w.dana.buildId])),
          rollback: async () => status.serve(statusList(before)),
          offline: async () => status.offline(),
        },
      });
    });
    expect(danaRun.hello).toMatchObject({ flavour: 'dedicated', stamped: true, serial: w.serial, redeemer: 'dana@example.test' });
    for (const f of Object.values(shots)) expect(fs.statSync(f).size).toBeGreaterThan(10_000);
    // Options: whom this build is for, its code serial and expiry.
    const opts = stepResult(danaRun, 'options').text as string;
    expect(opts).toContain('dana@example.test — Alice Example <alice@example.test>');
    expect(opts).toContain(w.serial);
    expect(opts).toContain(new Date(w.dana.expires).toISOString().slice(0, 10));
    console.log(`dedicated run: ${danaRun.seconds.toFixed(1)} s; screenshots ${Object.values(shots).join(', ')}`);
  }, 300_000);

  const verdict = (subject: string, n = 0) => {
    const all = stepResult(danaRun, 'verdicts', n) as { subject: string; views: any[]; files: any[]; totalMs: number }[];
    const v = all.find((x) => x.subject === subject);
    if (!v) throw new Error(`no verdicts for "${subject}": ${JSON.stringify(all.map((x) => x.subject))}`);
    return v;
  };

  it("case 1: a mail sealed by Alice's card is certified as from her card and opens byte-exact; the banner says so in people's words", () => {
    const v = verdict(S.alice);
    expect(v.views).toHaveLength(1);
    expect(v.views[0]).toMatchObject({ kind: 'certified', origin: 'card', attachment: 'report.bin.seal', sender: 'Alice Example <alice@example.test>' });
    expect(v.views[0].sealedBy).toContain(w.alice.data.cardId);
    expect(v.files[0]).toEqual({ name: 'report.bin', size: files.report.length, sha256: sha(files.report) });
    const open = stepResult(danaRun, 'openButton', 0);
    expect(open).toMatchObject({ opened: true });
    expect(open.tabsAfter).toBe(open.tabsBefore + 1);
    const banner = stepResult(danaRun, 'display', 0).banner as string;
    expect(banner).toContain('Certified: report.bin comes from the card of Alice Example <alice@example.test>.');
    expect(banner).toContain('It has not been changed since it was sealed. You can open or save it.');
    expect(banner).toContain('From Alice Example <alice@example.test>');
    expect(banner).toContain('Details');
    expect(banner.match(/card/g)).toHaveLength(1);
  });

  it('verdicts survive in storage.session; Save after a suspension recomputes the file; the Save button saves it', () => {
    const c = verdict(S.alice, 1);
    expect(c.views[0]).toMatchObject({ kind: 'certified', cached: true });
    const saved = stepResult(danaRun, 'saveAfterSuspend');
    expect(saved).toEqual({ cached: true, file: { name: 'report.bin', size: files.report.length, sha256: sha(files.report) } });
    // The Save button, pressed in the message pane, wrote the verified plaintext to disk.
    expect(stepResult(danaRun, 'pressSave')).toEqual({ pressed: true });
    expect(sha(fs.readFileSync(path.join(dir, 'downloads', 'report.bin')))).toBe(sha(files.report));
  });

  it('case 3: the mail the purchaser add-on sealed opens in the dedicated add-on', () => {
    const v = verdict(S.purchaser);
    expect(v.views[0]).toMatchObject({ kind: 'certified', origin: 'card' });
    expect(v.files[0]).toMatchObject({ name: 'notes.txt', sha256: sha(patternBytes(200_000, 3)) });
  });

  it('case 4: a different build of the same code is not certified, a changed byte is tampered; neither opens', () => {
    const copy = verdict(S.copy);
    expect(copy.views[0]).toMatchObject({ kind: 'refused' });
    expect(copy.views[0].reason).toMatch(/dedicated build to dedicated build|not from a purchaser/);
    expect(copy.views[0].sealedBy).toContain(w.danaCopy.buildId);
    expect(copy.files[0]).toBeNull();
    const banner = stepResult(danaRun, 'display', 1).banner as string;
    expect(banner).toContain('Not certified: sealcode cannot vouch for who sealed report.bin.');
    expect(banner).toContain('It was sealed by a copy of a sealcode add-on');
    expect(banner).not.toContain('Open');
    const t = verdict(S.tampered);
    expect(t.views[0]).toMatchObject({ kind: 'tampered' });
    expect(t.files[0]).toBeNull();
    const tb = stepResult(danaRun, 'display', 2).banner as string;
    expect(tb).toContain('Tampered: report.bin was changed after it was sealed.');
    expect(tb).toContain('Ask Alice Example <alice@example.test> to send it again');
    expect(tb).not.toContain('does not authenticate');
    // Open has nothing to show for a tampered file.
    expect(stepResult(danaRun, 'openButton', 1)).toMatchObject({ opened: false });
  });

  it('seals and opens a 25 MB file inside the add-on (measured)', () => {
    const p = stepResult(danaRun, 'perf');
    expect(p).toMatchObject({ size: 25 * MB, opened: 'certified', openedSize: files.big.length, openedSha256: sha(files.big) });
    expect(p.sealedSize).toBeGreaterThan(25 * MB);
    console.log(`PERF inside Thunderbird, 25 MB: seal ${p.sealMs} ms, certify + decrypt ${p.openMs} ms`);
  });

  it('a revoked build refuses to seal once the status list says so, keeps refusing on a replayed older list and offline', async () => {
    const first = stepResult(danaRun, 'refreshStatus', 0);
    expect(first).toMatchObject({ ok: true, changed: true });
    const refused = stepResult(danaRun, 'send', 1);
    expect(refused.outcome).toMatchObject({ sealed: false, cancelled: true });
    expect(refused.outcome.reason).toMatch(/revoked this add-on/);
    const v = verdict(S.alice, 2);
    expect(v.views[0]).toMatchObject({ kind: 'revoked-self' });
    expect(v.files[0]).toBeNull();
    expect(stepResult(danaRun, 'display', 3).banner).toContain('Not opened: this sealcode add-on was revoked by its distributor');
    const replay = stepResult(danaRun, 'refreshStatus', 1);
    expect(replay).toMatchObject({ ok: false });
    expect(replay.error).toMatch(/older than the one held/);
    const offline = stepResult(danaRun, 'refreshStatus', 2);
    expect(offline).toMatchObject({ ok: false });
    expect(offline.error).toMatch(/503/);
    expect(stepResult(danaRun, 'send', 2).outcome).toMatchObject({ sealed: false, cancelled: true });
    await new Promise((res) => setTimeout(res, 500));
    expect(sink.messages.filter((m) => m.raw.includes(S.revoked))).toHaveLength(0);
  });

  it('case 2: the dedicated add-on sends two attachments; the sink gets them sealed; Alice opens them with the CLI', async () => {
    const sent = stepResult(danaRun, 'send', 0);
    expect(sent.outcome).toMatchObject({ sealed: true, cancelled: false });
    const m = await sinkMessage(S.danaTwo);
    expect(m.headers.get('x-sealcode')).toMatch(/origin=dedicated; files=2/);
    expect(m.attachments.map((a) => [a.filename, a.contentType]).sort()).toEqual([
      ['a.pdf.seal', SEALED_TYPE],
      ['b.txt.seal', SEALED_TYPE],
    ]);
    const expected: Record<string, Uint8Array> = { 'a.pdf': patternBytes(150_000, 4), 'b.txt': patternBytes(70_001, 5) };
    for (const a of m.attachments) {
      const name = a.filename!.replace(/\.seal$/, '');
      const input = path.join(dir, `from-dana-${a.filename}`);
      fs.writeFileSync(input, a.content);
      const out = path.join(dir, `opened-${name}`);
      const r = await cli(['card', 'decrypt', '--card', w.cardFile, input, '-o', out], { SEALCODE_PASSPHRASE: PASSPHRASE });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(w.dana.buildId);
      expect(r.stdout).toMatch(/^Certified: .* comes from the sealcode add-on of dana@example\.test \(from a code of Alice Example\)\./m);
      expect(sha(fs.readFileSync(out))).toBe(sha(expected[name]!));
    }
  });

  it('the purchaser add-on explains itself: host missing, card never unlocked, locked, unlocked; then a revoked sender is refused', async () => {
    await dc.append('alice@example.test', await rawOf(S.danaTwo));
    const names = ['host-missing', 'never-unlocked', 'locked', 'revoked-sender'];
    const shots = Object.fromEntries(names.map((n) => [n, path.join(shotsInto(), `addon-purchaser-${n}.png`)]));
    const r = await withReportServer(async (rs) => {
      const xpi = await purchaserTestXpi(path.join(dir, 'purchaser2.xpi'), rs.url, [
        { op: 'waitInbox', count: 1 },
        { op: 'verdicts' },
        { op: 'display', subject: S.danaTwo, screenshot: 'host-missing' },
        { op: 'options' },
        { op: 'ask', name: 'install' },
        { op: 'verdicts' },
        { op: 'display', subject: S.danaTwo, screenshot: 'never-unlocked' },
        { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
        { op: 'verdicts' },
        { op: 'lock' },
        { op: 'verdicts' },
        { op: 'display', subject: S.danaTwo, screenshot: 'locked' },
        { op: 'unlock', passphrase: PASSPHRASE, minutes: 10 },
        { op: 'options' },
        { op: 'ask', name: 'revoke' },
        { op: 'refreshStatus' },
        { op: 'verdicts' },
        { op: 'display', subject: S.danaTwo, screenshot: 'revoked-sender' },
      ]);
      return runThunderbird({
        rs,
        xpi,
        headless: false,
        screenshots: shots,
        timeoutMs: 200_000,
        profile: { dir: path.join(dir, 'tb-alice2'), imap: imapOf('alice@example.test'), smtp: smtpOf(), identity: { name: 'Alice Example', email: 'alice@example.test' } },
        answers: {
          install: async (home) => {
            const inst = await cli(['card', 'host', '--install', '--card', w.cardFile], { HOME: home });
            if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}`);
          },
          revoke: async () => status.serve(statusList(Date.now(), [w.dana.buildId])),
        },
      });
    });
    const kinds = (n: number) => stepResult(r, 'verdicts', n)[0].views.map((v: any) => v.kind);
    // 1. No host: says so, with the command; claims nothing about the origin.
    expect(kinds(0)).toEqual(['host-missing', 'host-missing']);
    const missing = stepResult(r, 'display', 0).banner as string;
    expect(missing).toContain('needs the sealcode card host, which is not installed');
    expect(missing).toContain('sealcode card host --install --card');
    expect(missing).not.toMatch(/certified|Unlock/i);
    expect(stepResult(r, 'options', 0).text).toContain('sealcode card host --install --card YOUR-CARD-FILE');
    // 2. Host installed, card never unlocked here: asks for the unlock, claims nothing.
    expect(kinds(1)).toEqual(['never-unlocked', 'never-unlocked']);
    const never = stepResult(r, 'display', 1).banner as string;
    expect(never).toContain('Not checked yet');
    expect(never).toContain('Unlock card');
    expect(never).not.toMatch(/not installed|certified/i);
    // 3. Unlocked: certified and opened.
    const after = stepResult(r, 'verdicts', 2)[0];
    expect(after.views.map((v: any) => v.kind)).toEqual(['certified', 'certified']);
    expect(after.views[0].origin).toBe('dedicated');
    expect(after.views[0].sealedBy).toContain(w.dana.buildId);
    const byName = Object.fromEntries(after.files.map((f: any) => [f.name, f.sha256]));
    expect(byName).toEqual({ 'a.pdf': sha(patternBytes(150_000, 4)), 'b.txt': sha(patternBytes(70_001, 5)) });
    // 4. Locked again: the origin is certified keylessly, with an unlock button; nothing opens.
    expect(kinds(3)).toEqual(['locked', 'locked']);
    expect(stepResult(r, 'verdicts', 3)[0].files).toEqual([null, null]);
    const locked = stepResult(r, 'display', 2).banner as string;
    expect(locked).toContain('Origin certified: a.pdf comes from the sealcode add-on of dana@example.test');
    expect(locked).toContain('Your card is locked');
    expect(locked).not.toMatch(/not installed/);
    // Options: the card, unlocked; the code stock with the text to hand over; who got which code (from the card file).
    const opts = stepResult(r, 'options', 1).text as string;
    expect(opts).toContain('Alice Example');
    expect(opts).toMatch(/unlocked for \d+ min/);
    for (const c of w.alice.data.codes) expect(opts).toContain(c.code);
    expect(opts).toContain(status.url);
    expect(opts).toMatch(new RegExp(`${w.serial}\\s+given\\s+dana@example.test`));
    // 5. The distributor revokes Dana's build: her mail is refused, with the reason.
    expect(stepResult(r, 'refreshStatus')).toMatchObject({ ok: true, changed: true });
    const revoked = stepResult(r, 'verdicts', 4)[0];
    expect(revoked.views.map((v: any) => [v.kind, v.code])).toEqual([['refused', 'REVOKED'], ['refused', 'REVOKED']]);
    expect(revoked.files).toEqual([null, null]);
    expect(stepResult(r, 'display', 3).banner).toContain('The distributor has revoked the card or add-on it was sealed with.');
    for (const f of Object.values(shots)) expect(fs.statSync(f).size).toBeGreaterThan(10_000);
    console.log(`purchaser states run: ${r.seconds.toFixed(1)} s`);
  }, 300_000);

  it('case 5: the dedicated add-on past its expiry refuses to seal, and says so', async () => {
    const before = sink.messages.length;
    const r = await withReportServer(async (rs) => {
      const xpi = await dedicatedTestXpi(path.join(dir, 'erin.xpi'), w.erin, rs.url, [
        { op: 'waitInbox', count: 1 },
        { op: 'verdicts' },
        { op: 'send', to: ['alice@example.test'], subject: 'must not leave', attachments: [{ name: 'secret.txt', size: 1000, seed: 7 }] },
      ]);
      return runThunderbird({
        rs,
        xpi,
        profile: { dir: path.join(dir, 'tb-erin'), imap: imapOf('erin@example.test'), smtp: smtpOf(), identity: { name: 'Erin', email: 'erin@example.test' } },
      });
    });
    expect(r.hello).toMatchObject({ flavour: 'dedicated', expired: true });
    const sent = stepResult(r, 'send');
    expect(sent.outcome).toMatchObject({ sealed: false, cancelled: true });
    expect(sent.outcome.reason).toMatch(/expired/);
    const v = stepResult(r, 'verdicts')[0];
    expect(v.views[0]).toMatchObject({ kind: 'refused' });
    expect(v.views[0].reason).toMatch(/expired/);
    expect(v.files[0]).toBeNull();
    await new Promise((res) => setTimeout(res, 1000));
    expect(sink.messages.length).toBe(before);
    expect(PURCHASER_ID).toBeTruthy();
  }, 180_000);
});
