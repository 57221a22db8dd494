// Chess by sealed mail in a real Thunderbird (under Xvfb, for the screenshot): Alice's
// card opens a game from the CLI; Dana's stamped dedicated add-on shows the board of
// her move in the message pane with Alice's certified name, refuses a tampered and an
// out-of-sequence move with a banner and no board, and sends the reply with the next
// sealed move, which Alice's card then accepts through the CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { buildParty, profileSecrets } from '../../card/index.js';
import { GAME_MIME, moveAttachmentName } from '../../game/index.js';
import { playOut } from '../support/game.js';
import { buildXpi } from '../../thunderbird-addon/build.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { ensureBuilt } from '../cli/harness.js';
import { PASSPHRASE, ROOT, aliceParty, cli, makeAddonWorld, type AddonWorld } from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer } from './support/run-thunderbird.js';

const DANA = 'dana@example.test';
const ALICE = 'alice@example.test';
const S = { move: 'Chess: your move', tampered: 'Chess: tampered', outOfSequence: 'Chess: out of sequence' };
let dir: string;
let w: AddonWorld;
let dc: Dovecot;
let sink: SmtpSink;
let gameId: string;

const alice = (args: string[]) => cli(args, { SEALCODE_PASSPHRASE: PASSPHRASE });

const moveMail = (subject: string, filename: string, content: Uint8Array, from = 'Alice Example <alice@example.test>', to = DANA): Promise<Buffer> =>
  new MailComposer({
    from,
    to,
    subject,
    text: 'My move.',
    attachments: [{ filename, content: Buffer.from(content), contentType: GAME_MIME }],
  })
    .compile()
    .build();

/** Move 3 of a game Dana's add-on has never seen (moves 1 and 2 were played elsewhere). */
const foreignMoveThree = async (): Promise<Uint8Array> =>
  (await playOut(aliceParty(w), buildParty(profileSecrets(w.dana)), w.issuer.publicKey, ['d4', 'd5', 'c4'])).files[2]!;

beforeAll(async () => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-addon-game-'));
  w = await makeAddonWorld(dir);
  [dc, sink] = await Promise.all([startDovecot({ users: [DANA, ALICE].map((user) => ({ user, pass: `pw-${user}` })) }), startSmtpSink()]);
  const r = await alice(['game', 'new', '--card', w.cardFile, '--with', w.serial, '--move', 'f3', '--out', path.join(dir, 'm1.sealgame'), '--json']);
  if (r.code !== 0) throw new Error(`game new failed: ${r.stderr}${r.stdout}`);
  gameId = JSON.parse(r.stdout).gameId;
  const m1 = fs.readFileSync(path.join(dir, 'm1.sealgame'));
  const tampered = Buffer.from(m1);
  tampered[tampered.length - 20]! ^= 0x01;
  await dc.append(DANA, await moveMail(S.tampered, moveAttachmentName(gameId, 1), tampered));
  await dc.append(DANA, await moveMail(S.outOfSequence, 'g-003.sealgame', await foreignMoveThree()));
  await dc.append(DANA, await moveMail(S.move, moveAttachmentName(gameId, 1), m1));
}, 120_000);

afterAll(async () => {
  await Promise.all([dc?.dispose(), sink?.stop()]);
  if (!process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

describe('chess by sealed mail in Thunderbird', () => {
  it("shows the board of Alice's move, refuses bad moves, and sends Dana's sealed reply", async () => {
    // Into docs/ only when asked, so that test runs leave the working tree alone.
    const shotDir = process.env.SEALCODE_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs') : dir;
    const shot = path.join(shotDir, 'addon-game-board.png');
    const shotBad = path.join(shotDir, 'addon-game-refused.png');
    const run = await withReportServer(async (rs) => {
      const plan = { reportUrl: rs.url, steps: [
        { op: 'waitInbox', count: 3 },
        { op: 'display', subject: S.tampered, screenshot: 'refused' },
        { op: 'display', subject: S.outOfSequence },
        { op: 'display', subject: S.move, screenshot: 'board' },
        { op: 'play', subject: S.move, san: 'e5' },
      ] };
      const template = await buildXpi({ flavour: 'dedicated', test: true, extra: { 'game-plan.json': new TextEncoder().encode(JSON.stringify(plan)) } });
      const xpi = path.join(dir, 'dana-game.xpi');
      fs.writeFileSync(xpi, stampDedicatedXpi(template, w.dana));
      return runThunderbird({
        rs,
        xpi,
        headless: false,
        screenshots: { board: shot, refused: shotBad },
        profile: { dir: path.join(dir, 'tb-dana'), imap: { host: dc.host, port: dc.port, user: DANA, pass: `pw-${DANA}` }, smtp: { host: sink.host, port: sink.port }, identity: { name: 'Dana', email: DANA } },
      });
    });

    const tampered = stepResult(run, 'display', 0);
    expect(tampered.kinds).toEqual(['refused']);
    expect(tampered.boards).toBe(0);
    expect(tampered.text).toMatch(/game move refused: tampered/);
    const outOfSequence = stepResult(run, 'display', 1);
    expect(outOfSequence.kinds).toEqual(['refused']);
    expect(outOfSequence.boards).toBe(0);
    expect(outOfSequence.text).toMatch(/out of sequence/);

    const board = stepResult(run, 'display', 2);
    expect(board.kinds).toEqual(['board']);
    expect(board.boards).toBe(1);
    expect(board.text).toContain('Chess with Alice Example <alice@example.test>');
    expect(board.text).toMatch(/Move 1: f3 \(white\)\. Your move \(black\)/);
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
    expect(fs.statSync(shotBad).size).toBeGreaterThan(10_000);

    const played = stepResult(run, 'play');
    expect(played.sendError).toBeNull();
    expect(played.pane).toMatch(/Reply composed with move 2/);
    expect(played.attachments).toEqual([moveAttachmentName(gameId, 2)]);
    expect(played.after).toMatchObject({ kind: 'board', answered: true, yourTurn: false });

    // The reply as it left Thunderbird: the move file as attached, not sealed a second time.
    await sink.waitFor(1, 30_000);
    const mail = await simpleParser(sink.messages[0]!.raw);
    expect(mail.subject).toMatch(/Chess: your move/);
    const att = mail.attachments.find((a) => a.filename?.endsWith('.sealgame'));
    expect(att?.filename).toBe(moveAttachmentName(gameId, 2));
    expect(att?.contentType).toBe(GAME_MIME);
    const m2 = path.join(dir, 'm2.sealgame');
    fs.writeFileSync(m2, att!.content);

    // On the other side: Alice's card certifies Dana's move as the next in the game, and answers it.
    const shown = await alice(['game', 'show', '--card', w.cardFile, m2, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ gameId, moveNumber: 2, lastMove: { san: 'e5', by: 'b' }, yourTurn: true, recorded: false });
    const answered = await alice(['game', 'move', '--card', w.cardFile, m2, 'g4', '--out', path.join(dir, 'm3.sealgame'), '--json']);
    expect(answered.code, answered.stderr).toBe(0);
    expect(JSON.parse(answered.stdout)).toMatchObject({ moveNumber: 3, moves: ['f3', 'e5', 'g4'] });
    console.log(`game run: ${run.seconds.toFixed(1)} s; screenshot ${shot}`);
  }, 240_000);

  it("the purchaser's add-on, its card behind the native host, answers a game Dana's build started", async () => {
    const profile = path.join(dir, 'dana.json');
    fs.writeFileSync(profile, JSON.stringify(w.dana));
    const first = path.join(dir, 'd1.sealgame');
    const r = await cli(['game', 'new', '--build', profile, '--move', 'e4', '--out', first, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const id = JSON.parse(r.stdout).gameId as string;
    const subject = 'Chess from Dana';
    await dc.append(ALICE, await moveMail(subject, moveAttachmentName(id, 1), fs.readFileSync(first), `Dana <${DANA}>`, ALICE));
    const sent = sink.messages.length;
    const run = await withReportServer(async (rs) => {
      const plan = { reportUrl: rs.url, steps: [
        { op: 'waitInbox', count: 1 },
        { op: 'display', subject },
        { op: 'unlock', passphrase: PASSPHRASE },
        { op: 'display', subject },
        { op: 'play', subject, san: 'c5' },
      ] };
      const xpi = path.join(dir, 'alice-game.xpi');
      fs.writeFileSync(xpi, await buildXpi({ flavour: 'purchaser', test: true, extra: { 'game-plan.json': new TextEncoder().encode(JSON.stringify(plan)) } }));
      return runThunderbird({
        rs,
        xpi,
        profile: { dir: path.join(dir, 'tb-alice'), imap: { host: dc.host, port: dc.port, user: ALICE, pass: `pw-${ALICE}` }, smtp: { host: sink.host, port: sink.port }, identity: { name: 'Alice Example', email: ALICE } },
        prepare: async (home) => {
          const inst = await cli(['card', 'host', '--install', '--card', w.cardFile], { HOME: home });
          if (inst.code !== 0) throw new Error(`card host --install failed: ${inst.stderr}`);
        },
      });
    });
    // Locked card: no keys, so no board and no claim about the move.
    const locked = stepResult(run, 'display');
    expect(locked.kinds).toEqual(['locked']);
    expect(locked.boards).toBe(0);
    expect(stepResult(run, 'unlock').locked).toBe(false);
    const unlocked = stepResult(run, 'display', 1);
    expect(unlocked.kinds).toEqual(['board']);
    expect(unlocked.text).toContain(`Chess with ${DANA} (code ${w.serial})`);
    const played = stepResult(run, 'play');
    expect(played.sendError).toBeNull();
    expect(played.pane).toMatch(/Reply composed with move 2/);
    expect(played.attachments).toEqual([moveAttachmentName(id, 2)]);
    await sink.waitFor(sent + 1, 30_000);
    const mail = await simpleParser(sink.messages[sent]!.raw);
    const att = mail.attachments.find((a) => a.filename?.endsWith('.sealgame'));
    expect(att?.contentType).toBe(GAME_MIME);
    const second = path.join(dir, 'd2.sealgame');
    fs.writeFileSync(second, att!.content);
    const shown = await cli(['game', 'show', '--build', profile, second, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ gameId: id, moveNumber: 2, lastMove: { san: 'c5', by: 'b' }, yourTurn: true, opponent: 'Alice Example <alice@example.test>' });
  }, 240_000);
});
