// `sealcode game` through the real CLI: fool's mate between Alice's card and Dana's
// dedicated build (a code of Alice's), each move a separate process resuming from the
// record kept beside the card or profile; every bad move file refused with no output;
// nobody else reads a move.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Chess } from 'chess.js';
import { cardParty, cardSecretsOf, openCardFile } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { moveHash, sealMove } from '../../game/index.js';
import { ensureBuilt, PASS, sealcode, sealcodeJson, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-game-'));
const p = (name: string): string => path.join(dir, name);
const D = ['--data', p('data')];
const ALICE = ['--card', p('alice.card')];
const DANA = ['--build', p('dana.json')];
let serial = '';

async function ok(args: string[]): Promise<string> {
  const r = await sealcode(args);
  expect(r.code, show(r)).toBe(0);
  return r.stdout;
}

/** Exit `code`, the output file absent, no stack trace, no leftover temporary file. */
async function refused(args: string[], out: string | undefined, code = 3, why?: RegExp): Promise<void> {
  const r = await sealcode(args);
  expect(r.code, show(r)).toBe(code);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  if (why) expect(r.stderr).toMatch(why);
  if (out) {
    expect(fs.existsSync(out), `${out} must not exist`).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith(`.${path.basename(out)}.`))).toEqual([]);
  }
}

const showJson = async (who: string[], file: string) => {
  const { run, json } = await sealcodeJson(['game', 'show', ...who, file]);
  expect(run.code, show(run)).toBe(0);
  return json;
};

beforeAll(async () => {
  ensureBuilt();
  await ok(['init', ...D]);
  const a = (await sealcodeJson(['admin', 'issue-card', '--name', 'Alice', '--email', 'alice@example.test', '--codes', '3', '--out', p('alice.card'), ...D])).json;
  await Promise.all([
    sealcode(['admin', 'issue-card', '--name', 'Bob', '--email', 'bob@example.test', '--group', a.groupId, '--out', p('bob.card'), ...D]),
    sealcode(['admin', 'issue-card', '--name', 'Carol', '--email', 'carol@example.test', '--out', p('carol.card'), ...D]),
  ]);
  const codes = (await sealcodeJson(['card', 'codes', ...ALICE])).json as { serial: string; code: string }[];
  serial = codes[0]!.serial;
  await ok(['admin', 'redeem', codes[0]!.code, '--email', 'dana@example.test', '--out', p('dana.json'), ...D]);
  await ok(['admin', 'redeem', codes[1]!.code, '--email', 'erin@example.test', '--out', p('erin.json'), ...D]);
}, 120_000);

afterAll(() => {
  if (!process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

describe('sealcode game', () => {
  it("fool's mate, card against dedicated build, ends 0-1; every bad move file is refused with no output", async () => {
    // A card must say whom it plays; only a code of its own; a build plays its purchaser.
    await refused(['game', 'new', ...ALICE, '--move', 'f3', '--out', p('x.sealgame')], p('x.sealgame'), 2, /--with/);
    await refused(['game', 'new', ...ALICE, '--with', '2NKKC62GQ3', '--move', 'f3', '--out', p('x.sealgame')], p('x.sealgame'), 2, /not one of this card's codes/);
    await refused(['game', 'new', ...DANA, '--with', serial, '--move', 'e4', '--out', p('x.sealgame')], p('x.sealgame'), 2, /purchaser/);

    const first = await sealcodeJson(['game', 'new', ...ALICE, '--with', serial, '--move', 'f3', '--out', p('m1.sealgame')]);
    expect(first.run.code, show(first.run)).toBe(0);
    expect(first.json).toMatchObject({ moveNumber: 1, turn: 'b', you: 'w', over: false, result: null });
    const gameId = first.json.gameId as string;

    // Nobody else reads it: another code's build, a card of another group.
    await refused(['game', 'show', '--build', p('erin.json'), p('m1.sealgame')], undefined, 3, /not sealed for this/);
    await refused(['game', 'move', '--build', p('erin.json'), p('m1.sealgame'), 'e5', '--out', p('x.sealgame')], p('x.sealgame'), 3);
    await refused(['game', 'show', '--card', p('carol.card'), p('m1.sealgame')], undefined, 3);
    // Our own move handed back to us is out of turn.
    await refused(['game', 'move', ...ALICE, p('m1.sealgame'), 'e4', '--out', p('x.sealgame')], p('x.sealgame'), 3, /your own move/);
    // An illegal reply: refused, and nothing recorded (the legal reply after it still works).
    await refused(['game', 'move', ...DANA, p('m1.sealgame'), 'e4', '--out', p('m2.sealgame')], p('m2.sealgame'), 3, /illegal move/);
    expect(fs.existsSync(p(`dana.json.games/${gameId}.json`))).toBe(false);

    expect((await showJson(DANA, p('m1.sealgame'))).yourTurn).toBe(true);
    await ok(['game', 'move', ...DANA, p('m1.sealgame'), 'e5', '--out', p('m2.sealgame')]);
    // The record is kept per game id beside the profile, private to its owner.
    const record = p(`dana.json.games/${gameId}.json`);
    expect(fs.statSync(record).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(record, 'utf8')).moves.map((m: { san: string }) => m.san)).toEqual(['f3', 'e5']);
    await refused(['game', 'move', ...DANA, p('m2.sealgame'), 'd5', '--out', p('x.sealgame')], p('x.sealgame'), 3, /your own move/);

    // Bob shares Alice's group key and so can seal for Dana's code, with the right chain link: not Dana's opponent.
    const bob = cardParty(cardSecretsOf(await openCardFile(fs.readFileSync(p('bob.card'), 'utf8'), PASS)));
    const chess = new Chess();
    for (const s of ['f3', 'e5', 'g4']) chess.move(s);
    const prev = moveHash(new Uint8Array(fs.readFileSync(p('m2.sealgame'))));
    const forged = await sealMove(
      { sealcode: 'game-move', v: 1, game: 'chess', gameId, n: 3, san: 'g4', fen: chess.fen(), prev },
      { sender: bob, recipient: { kind: 'code', label: serial }, primitives: nodePrimitives },
    );
    fs.writeFileSync(p('forged.sealgame'), forged);
    await refused(['game', 'move', ...DANA, p('forged.sealgame'), 'Qh4#', '--out', p('x.sealgame')], p('x.sealgame'), 3, /not sealed by your opponent/);

    await ok(['game', 'move', ...ALICE, p('m2.sealgame'), 'g4', '--out', p('m3.sealgame')]);
    await refused(['game', 'move', ...ALICE, p('m2.sealgame'), 'g4', '--out', p('x.sealgame')], p('x.sealgame'), 3, /replay/);
    // Out of sequence: the same build under another record (it never saw move 1) is given move 3.
    fs.copyFileSync(p('dana.json'), p('dana-copy.json'));
    await refused(['game', 'move', '--build', p('dana-copy.json'), p('m3.sealgame'), 'Qh4#', '--out', p('x.sealgame')], p('x.sealgame'), 3, /out of sequence/);
    // Changed bytes and oversized files are not moves at all (exit 4, as for any container).
    const bad = fs.readFileSync(p('m3.sealgame'));
    bad[bad.length - 5]! ^= 1;
    fs.writeFileSync(p('tampered.sealgame'), bad);
    await refused(['game', 'move', ...DANA, p('tampered.sealgame'), 'Qh4#', '--out', p('x.sealgame')], p('x.sealgame'), 4);
    fs.writeFileSync(p('big.sealgame'), Buffer.alloc(70_000));
    await refused(['game', 'move', ...DANA, p('big.sealgame'), 'Qh4#', '--out', p('x.sealgame')], p('x.sealgame'), 4);

    await ok(['game', 'move', ...DANA, p('m3.sealgame'), 'Qh4#', '--out', p('m4.sealgame')]);
    for (const who of [ALICE, DANA]) {
      const s = await showJson(who, p('m4.sealgame'));
      expect(s).toMatchObject({ gameId, moveNumber: 4, turn: 'w', over: true, result: '0-1', reason: 'checkmate', moves: ['f3', 'e5', 'g4', 'Qh4#'] });
      expect(s.fen).toBe('rnb1kbnr/pppp1ppp/8/4p3/6Pq/5P2/PPPPP2P/RNBQKBNR w KQkq - 1 3');
    }
    // Alice accepting the mate records it; she has no legal move left.
    await refused(['game', 'move', ...ALICE, p('m4.sealgame'), 'Kf2', '--out', p('x.sealgame')], p('x.sealgame'), 3, /game is over/);
    expect((await showJson(ALICE, p('m1.sealgame'))).moveNumber).toBe(1);
    const human = await ok(['game', 'show', ...ALICE, p('m4.sealgame')]);
    expect(human).toMatch(/game over: 0-1 \(checkmate\)/);
    expect(human).toMatch(/dana@example\.test/);
  }, 300_000);

  it('one game move at a time: a live lock refuses, a dead holder\'s lock is taken over', async () => {
    const r = await sealcodeJson(['game', 'new', '--build', p('erin.json'), '--move', 'e4', '--out', p('e1.sealgame')]);
    expect(r.run.code, show(r.run)).toBe(0);
    const lock = p(`alice.card.games/${r.json.gameId}.lock`);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, String(process.pid));
    await refused(['game', 'move', ...ALICE, p('e1.sealgame'), 'e5', '--out', p('e2.sealgame')], p('e2.sealgame'), 1, /another sealcode process/);
    fs.writeFileSync(lock, String(2 ** 22 + 1)); // above Linux's pid_max: no such process
    await ok(['game', 'move', ...ALICE, p('e1.sealgame'), 'e5', '--out', p('e2.sealgame')]);
    expect(fs.existsSync(lock)).toBe(false);
    expect((await showJson(['--build', p('erin.json')], p('e2.sealgame'))).yourTurn).toBe(true);
  }, 120_000);
});
