// Keys only their owners hold, in a real Thunderbird: Alice's card lives in a SoftHSM2
// token (a private SOFTHSM2_CONF) and its group's codes are distributor-blind. Dana
// redeems the seller's part of a code (the CLI, as the distributor's page would); her
// stamped build asks for the whole code on first start, refuses a wrong or mistyped one,
// keeps only the key made from the right one, then opens Alice's mail and seals a reply.
// Alice's purchaser add-on unlocks the token card with its PIN (wrong PINs counted by
// sealcode), opens Dana's reply and seals for Dana's code.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser, type ParsedMail } from 'mailparser';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../support/softhsm.js';
import { normalize } from '../../card/index.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { SEALED_TYPE } from '../../thunderbird-addon/manifest.js';
import { ROOT, cli, mail, type PlanStep } from './support/addon-world.js';
import { buildXpi } from '../../thunderbird-addon/build.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import type { DedicatedProfile } from '../../card/profile.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';

const PIN = '4711';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const S = { toDana: 'for Dana, blind', fromDana: 'reply from Dana', fromAlice: 'from the token card' };
const files = { report: patternBytes(120_000 + 5, 21), reply: patternBytes(80_000 + 3, 22), notes: patternBytes(60_000, 23) };

const hsm = startSoftHsm();
hsm.initToken('alice', PIN);
let dir: string;
let dc: Dovecot;
let sink: SmtpSink;
let codes: { serial: string; code: string }[];
let whole: string; // the code Dana got, as Alice handed it over
let blindPart: string;
let danaRun: RunResult;
let aliceRun: RunResult;
const p = (f: string) => path.join(dir, f);
const run = (args: string[]) => cli(args, { ...hsm.env, SEALCODE_PIN: PIN });
const ok = async (args: string[]): Promise<string> => {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`sealcode ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const users = ['alice@example.test', 'dana@example.test'].map((user) => ({ user, pass: `pw-${user}` }));
const imapOf = (user: string) => ({ host: dc.host, port: dc.port, user, pass: `pw-${user}` });
const shotsInto = (): string => (process.env.SEALCODE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs') : dir);

async function sinkMessage(subject: string): Promise<{ parsed: ParsedMail; raw: Buffer }> {
  for (let i = 0; i < 120; i++) {
    for (const m of sink.messages) {
      const parsed = await simpleParser(m.raw);
      if (parsed.subject === subject) return { parsed, raw: m.raw };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the SMTP sink got no message "${subject}"`);
}

/** A test build carrying the keys driver's plan (background/keys-test-driver.ts) and axe-core for its narrowPage step; stamped when a profile is given. */
async function keysXpi(flavour: 'purchaser' | 'dedicated', reportUrl: string, steps: PlanStep[], profile?: DedicatedProfile): Promise<string> {
  const extra = {
    'keys-plan.json': new TextEncoder().encode(JSON.stringify({ reportUrl, steps })),
    'axe.min.js': new Uint8Array(fs.readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'))),
  };
  const built = await buildXpi({ flavour, test: true, extra });
  const file = p(`${flavour}.xpi`);
  fs.writeFileSync(file, profile ? stampDedicatedXpi(built, profile) : built);
  return file;
}

/** One Thunderbird run under Xvfb (for the screenshots) with the keys driver's plan. */
function inThunderbird(
  build: { flavour: 'purchaser' | 'dedicated'; profile?: DedicatedProfile },
  identity: { name: string; email: string },
  steps: PlanStep[],
  screenshots: Record<string, string>,
  prepare?: (home: string) => Promise<void>,
  relaunch = false,
): Promise<RunResult> {
  return withReportServer(async (rs) =>
    runThunderbird({
      rs,
      xpi: await keysXpi(build.flavour, rs.url, steps, build.profile),
      headless: false,
      screenshots,
      timeoutMs: 200_000,
      profile: { dir: p(`tb-${build.flavour}`), imap: imapOf(identity.email), smtp: { host: sink.host, port: sink.port }, identity },
      prepare,
      relaunch,
    }),
  );
}

/** Every spelling of the blind part a careless program might keep. */
const blindForms = (): string[] => [blindPart, normalize(blindPart), blindPart.replace(/-/g, ''), blindPart.toLowerCase()];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-keys-e2e-'));
  await ok(['init', '--data', p('data')]);
  await ok(['admin', 'issue-card', '--data', p('data'), '--blind', '--name', 'Alice Example', '--email', 'alice@example.test', '--codes', '2', '--out', p('alice.card'), '--token-module', SOFTHSM_MODULE, '--token-label', 'alice']);
  // The group's blind secret, made inside Alice's token.
  await ok(['card', 'blind', '--card', p('alice.card')]);
  codes = JSON.parse(await ok(['card', 'codes', '--card', p('alice.card'), '--json']));
  whole = codes[0]!.code;
  blindPart = whole.split('+')[1]!;
  [dc, sink] = await Promise.all([startDovecot({ users }), startSmtpSink()]);
  fs.writeFileSync(p('report.bin'), files.report);
  await ok(['card', 'encrypt', '--card', p('alice.card'), '--to', codes[0]!.serial, p('report.bin'), '-o', p('report.bin.seal')]);
  await dc.append(
    'dana@example.test',
    await mail({ from: 'Alice Example <alice@example.test>', to: 'dana@example.test', subject: S.toDana, attachments: [{ filename: 'report.bin.seal', content: fs.readFileSync(p('report.bin.seal')) }] }),
  );
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([dc?.dispose(), sink?.stop()]);
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
  hsm.cleanup();
});

describe('keys only their owners hold, in a real Thunderbird', () => {
  it('the redemption takes the whole code, keeps no blind part, and stamps a build that lacks it', async () => {
    await ok(['admin', 'redeem', '--data', p('data'), whole, '--email', 'dana@example.test', '--out', p('dana.json')]);
    const profile = fs.readFileSync(p('dana.json'), 'utf8');
    expect(JSON.parse(profile).blind).toBe('needed');
    for (const f of blindForms()) expect(profile.includes(f)).toBe(false);
    // The CLI's completion of the same build: the key the add-on must derive, byte for byte.
    await ok(['dedicated', 'complete', '--build', p('dana.json'), '--code', whole, '-o', p('dana-done.json')]);
  }, 60_000);

  it("Dana's build asks for the whole code on first start, refuses until given it, rejects a wrong or mistyped one, then opens and seals", async () => {
    const profile = JSON.parse(fs.readFileSync(p('dana.json'), 'utf8'));
    const typo = whole.slice(0, -1) + (whole.endsWith('A') ? 'B' : 'A');
    const shots = { 'first-start': path.join(shotsInto(), 'addon-first-start.png'), 'first-start-mistyped': path.join(shotsInto(), 'addon-first-start-mistyped.png') };
    const steps: PlanStep[] = [
      { op: 'firstStartPage', screenshot: 'first-start' },
      { op: 'waitInbox', count: 1 },
      { op: 'verdicts' },
      { op: 'display', subject: S.toDana },
      // The banner's own "Enter code…" button reopens the page (the display step closed its tab).
      { op: 'pressBanner', subject: S.toDana, role: 'enter-code' },
      { op: 'firstStartPage' },
      { op: 'send', to: ['Alice Example <alice@example.test>'], subject: 'must not leave', attachments: [{ name: 'x.txt', size: 1000, seed: 1 }] },
      { op: 'optionsTab' },
      { op: 'giveCode', code: codes[1]!.code },
      { op: 'giveCode', code: typo, screenshot: 'first-start-mistyped' },
      { op: 'giveCode', code: whole.split('+')[0]! },
      { op: 'giveCode', code: whole.toLowerCase() },
      { op: 'verdicts', subject: S.toDana },
      { op: 'send', to: ['Alice Example <alice@example.test>'], subject: S.fromDana, attachments: [{ name: 'reply.bin', size: files.reply.length, seed: 22 }] },
      { op: 'narrowPage', page: 'pages/first-start.html', width: 390 },
      { op: 'options' },
    ];
    danaRun = await inThunderbird({ flavour: 'dedicated', profile }, { name: 'Dana', email: 'dana@example.test' }, steps, shots);
    const r = danaRun;
    expect(r.hello).toMatchObject({ flavour: 'dedicated', stamped: true, needsCode: true, serial: codes[0]!.serial });
    // The add-on opened its first-start page by itself, on install.
    const first = stepResult(r, 'firstStartPage');
    expect(first.opened).toBe(1);
    expect(first.text).toContain('Type the whole code once');
    expect(first.text).toContain('sends nothing anywhere');
    expect(first.text).toContain(`This add-on was made for dana@example.test, from a code Alice Example <alice@example.test> handed over (serial ${codes[0]!.serial})`);
    // Until then: nothing opens, nothing is sealed, and both say why.
    const before = stepResult(r, 'verdicts', 0)[0];
    expect(before.views.map((v: any) => v.kind)).toEqual(['needs-code']);
    expect(before.files).toEqual([null]);
    const banner = stepResult(r, 'display').banner as string;
    expect(banner).toContain('Not opened yet: report.bin waits until you give this add-on your whole code.');
    expect(banner).toContain('Enter code');
    const refused = stepResult(r, 'send', 0).outcome;
    expect(refused).toMatchObject({ sealed: false, cancelled: true });
    expect(refused.reason).toMatch(/enter your whole code once/);
    expect(stepResult(r, 'optionsTab').text).toContain('This add-on still needs your whole code before it can seal or open anything. Enter code');
    expect(stepResult(r, 'pressBanner')).toEqual({ pressed: true });
    expect(stepResult(r, 'firstStartPage', 1).opened).toBe(1);
    // Another code's whole text, a mistyped blind part, the seller's part alone: each refused, nothing stored.
    const [other, mistyped, sellerOnly, right] = [0, 1, 2, 3].map((n) => stepResult(r, 'giveCode', n));
    expect(other.err).toMatch(/not the code this dedicated build was made from/);
    expect(mistyped.err).toMatch(/blind part has a typing mistake/);
    expect(mistyped.invalid).toBe('true');
    expect(sellerOnly.err).toMatch(/only the seller's part of the code/);
    for (const x of [other, mistyped, sellerOnly]) {
      expect(x.stored).toBeNull();
      expect(x.done).toBe('');
    }
    // The right one (typed in small letters): stored is the derived key, the same bytes as `dedicated complete`.
    expect(right.err).toBe('');
    expect(right.done).toContain('this add-on can now seal and open mail');
    const done = JSON.parse(fs.readFileSync(p('dana-done.json'), 'utf8'));
    expect(right.stored).toEqual({ buildId: profile.buildId, codeKey: done.codeKey });
    expect(done.codeKey).not.toBe(profile.codeKey);
    for (const f of [...blindForms(), normalize(whole)]) expect(right.storage.includes(f)).toBe(false);
    // Now Alice's mail for the blind code certifies and opens, byte-exact.
    const after = stepResult(r, 'verdicts', 1)[0];
    expect(after.views[0]).toMatchObject({ kind: 'certified', origin: 'card' });
    expect(after.files[0]).toEqual({ name: 'report.bin', size: files.report.length, sha256: sha(files.report) });
    expect(stepResult(r, 'send', 1).outcome).toMatchObject({ sealed: true, cancelled: false });
    // The page at a phone's width: no sideways scrolling, no serious or critical axe finding.
    const narrow = stepResult(r, 'narrowPage');
    expect(narrow.innerWidth).toBeLessThanOrEqual(400);
    expect(narrow.scrollWidth).toBeLessThanOrEqual(narrow.innerWidth);
    expect(narrow.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    expect(stepResult(r, 'options').text).not.toContain('still needs your whole code');
    for (const f of Object.values(shots)) expect(fs.statSync(f).size).toBeGreaterThan(10_000);
    console.log(`dedicated first-start run: ${r.seconds.toFixed(1)} s; axe findings (any impact): ${narrow.violations.map((v: any) => `${v.id}:${v.impact}`).join(', ') || 'none'}`);
  }, 300_000);

  it("after a restart of Dana's Thunderbird the build keeps its key: no first-start page, Alice's mail still opens", async () => {
    const profile = JSON.parse(fs.readFileSync(p('dana.json'), 'utf8'));
    const steps: PlanStep[] = [{ op: 'waitInbox', count: 1 }, { op: 'verdicts', subject: S.toDana }, { op: 'storage' }, { op: 'views' }];
    // The same profile folder, launched again (the test build's new plan makes it an update, not an install).
    const r = await inThunderbird({ flavour: 'dedicated', profile }, { name: 'Dana', email: 'dana@example.test' }, steps, {}, undefined, true);
    expect(r.hello).toMatchObject({ flavour: 'dedicated', needsCode: false });
    const v = stepResult(r, 'verdicts')[0];
    expect(v.views[0]).toMatchObject({ kind: 'certified', origin: 'card' });
    expect(v.files[0]).toMatchObject({ sha256: sha(files.report) });
    expect(JSON.parse(stepResult(r, 'storage')).blindCompletion.buildId).toBe(profile.buildId);
    expect((stepResult(r, 'views') as string[]).filter((x) => x.endsWith('first-start.html'))).toEqual([]);
    console.log(`dedicated relaunch: ${r.seconds.toFixed(1)} s`);
  }, 300_000);

  it("the reply Dana's build sealed opens at Alice's token card (CLI), certified as from Dana's add-on", async () => {
    const { parsed, raw } = await sinkMessage(S.fromDana);
    expect(parsed.headers.get('x-sealcode')).toMatch(/origin=dedicated/);
    expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([['reply.bin.seal', SEALED_TYPE]]);
    fs.writeFileSync(p('reply.bin.seal'), parsed.attachments[0]!.content);
    const out = await ok(['card', 'decrypt', '--card', p('alice.card'), p('reply.bin.seal'), '-o', p('reply.out')]);
    expect(out).toMatch(/^Certified: reply\.bin comes from the sealcode add-on of dana@example\.test \(from a code of Alice Example\)\./m);
    expect(sha(fs.readFileSync(p('reply.out')))).toBe(sha(files.reply));
    await dc.append('alice@example.test', raw);
  }, 60_000);

  it('the purchaser add-on asks for the token PIN, counts wrong PINs, opens the reply certified and seals for the blind code', async () => {
    const shots = { 'pin-unlock': path.join(shotsInto(), 'addon-pin-unlock.png'), 'options-narrow': path.join(shotsInto(), 'addon-options-390.png') };
    const steps: PlanStep[] = [
      { op: 'unlockPage', secret: '0000', screenshot: 'pin-unlock' },
      { op: 'unlockPage', secret: '1111' },
      { op: 'unlockPage', secret: PIN },
      // Unlocked, the page is at its widest (the code table with the text to hand over).
      { op: 'narrowPage', page: 'pages/options.html', width: 390, screenshot: 'options-narrow' },
      { op: 'waitInbox', count: 1 },
      { op: 'verdicts', subject: S.fromDana },
      { op: 'popup', to: ['Dana <dana@example.test>'], choices: { 'dana@example.test': codes[0]!.serial } },
      { op: 'send', to: ['Dana <dana@example.test>'], subject: S.fromAlice, attachments: [{ name: 'notes.bin', size: files.notes.length, seed: 23 }] },
    ];
    aliceRun = await inThunderbird({ flavour: 'purchaser' }, { name: 'Alice Example', email: 'alice@example.test' }, steps, shots, async (home) => {
      const inst = await cli(['card', 'host', '--install', '--card', p('alice.card')], { HOME: home });
      if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}`);
    });
    const r = aliceRun;
    const [wrong1, wrong2, right] = [0, 1, 2].map((n) => stepResult(r, 'unlockPage', n));
    // The host said it is a token card: the page asks for its PIN, not a passphrase.
    expect(wrong1.label).toBe('PIN of the token alice');
    expect(wrong1.text).toContain('A card whose keys are in the token "alice"');
    expect(wrong1.text).not.toMatch(/passphrase/i);
    expect(wrong1.outcome).toBe('options-error');
    expect(wrong1.err).toMatch(/wrong PIN for the token "alice" \(4 tries left before sealcode locks it\)/);
    expect(wrong2.err).toMatch(/\(3 tries left/);
    expect(right.outcome).toBe('options');
    const narrow = stepResult(r, 'narrowPage');
    expect(narrow.innerWidth).toBeLessThanOrEqual(400);
    expect(narrow.scrollWidth).toBeLessThanOrEqual(narrow.innerWidth);
    expect(narrow.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    expect(right.text).toMatch(/unlocked for \d+ min/);
    for (const c of codes) expect(right.text).toContain(c.code);
    const v = stepResult(r, 'verdicts')[0];
    expect(v.views[0]).toMatchObject({ kind: 'certified', origin: 'dedicated' });
    expect(v.files[0]).toEqual({ name: 'reply.bin', size: files.reply.length, sha256: sha(files.reply) });
    expect(stepResult(r, 'send').outcome).toMatchObject({ sealed: true, cancelled: false });
    expect(fs.statSync(shots['pin-unlock']).size).toBeGreaterThan(10_000);
    console.log(`purchaser token-card run: ${r.seconds.toFixed(1)} s`);
  }, 300_000);

  it("what Alice's token card sealed from compose opens in Dana's build (CLI, with the whole code), certified as from her card", async () => {
    const { parsed } = await sinkMessage(S.fromAlice);
    expect(parsed.headers.get('x-sealcode')).toMatch(/origin=card/);
    fs.writeFileSync(p('notes.bin.seal'), parsed.attachments[0]!.content);
    // Without the blind part the build refuses (exit 3); with it, it opens.
    expect((await run(['dedicated', 'decrypt', '--build', p('dana.json'), p('notes.bin.seal'), '-o', p('notes.x')])).code).toBe(3);
    const out = await ok(['dedicated', 'decrypt', '--build', p('dana-done.json'), p('notes.bin.seal'), '-o', p('notes.out')]);
    expect(out).toMatch(/^Certified: notes\.bin comes from the card of Alice Example <alice@example\.test>\./m);
    expect(sha(fs.readFileSync(p('notes.out')))).toBe(sha(files.notes));
  }, 60_000);
});
