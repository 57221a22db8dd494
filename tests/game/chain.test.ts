// The chain rules and the sealed move, in process with real keys (tests/support/world):
// every way a move file can be wrong is refused with its own reason, and nothing is
// accepted that the rules or the chain of hashes do not allow.
import { describe, expect, it } from 'vitest';
import { isSealError, type Cert } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import {
  MAX_MOVE_FILE,
  acceptMove,
  decodeMove,
  encodeMove,
  openMove,
  parseState,
  playMove,
  recordOwn,
  sealMove,
  startGame,
  type GameState,
  type MovePlain,
} from '../../game/index.js';
import { buildCertOf, makeWorld, partyOfBuild, partyOfCard } from '../support/world.js';
import { playOut } from '../support/game.js';

const w = makeWorld();
const alice = partyOfCard(w.A);
const bob = partyOfCard(w.B);
const dana = partyOfBuild(w.D1);
const erin = partyOfBuild(w.build(w.A, w.g1, w.A.data.codes[1]!.serial));
const A = w.A.cert as Cert;
const D = buildCertOf(w.D1) as Cert;
const sealFor = { kind: 'code' as const, label: w.serialA };
const io = { issuerPub: w.issuer.publicKey, primitives: nodePrimitives };

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, msg?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(isSealError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (msg) expect((err as Error).message).toMatch(msg);
}

/** White (Alice) and black (Dana) after the given moves, with every sealed file. */
async function play(sans: string[]) {
  const t = await playOut(alice, dana, w.issuer.publicKey, sans);
  return { white: t.white, black: t.black!, files: t.files };
}

describe('game chain', () => {
  it('plays a whole game; both sides agree on every hash', async () => {
    const g = await play(['f3', 'e5', 'g4', 'Qh4#']);
    expect(g.white.moves).toEqual(g.black.moves);
    expect(() => playMove(g.white, 'Kf2')).toThrow(/game is over/);
  });

  it('stores canonical SAN whatever notation the player typed', async () => {
    const s = startGame({ kind: 'build', keyKind: 'code', keyLabel: w.serialA }, sealFor);
    expect(playMove(s, 'Ng1f3').san).toBe('Nf3');
    await expectCode(() => playMove(s, 'e5'), 'REFUSED', /illegal move/);
  });

  it('refuses a move out of turn, a replay, a reordered and a dropped move', async () => {
    const g = await play(['e4', 'e5', 'Nf3']);
    const open = (f: Uint8Array, receiver = dana) => openMove(f, { ...io, receiver });
    // Black receives white's move 1 again: already in the chain.
    await expectCode(async () => acceptMove(g.black, D, await open(g.files[0]!)), 'REFUSED', /replay/);
    // White is handed its own move back.
    await expectCode(async () => acceptMove(g.white, A, await open(g.files[2]!, alice)), 'REFUSED', /your own move/);
    // Black has only move 1 and is given move 3: move 2 was dropped.
    const early: GameState = { ...g.black, moves: g.black.moves.slice(0, 1) };
    await expectCode(async () => acceptMove(early, D, await open(g.files[2]!)), 'REFUSED', /out of sequence/);
    // A fresh black, never having seen move 1, is given move 3.
    await expectCode(async () => acceptMove(null, D, await open(g.files[2]!)), 'REFUSED', /out of sequence/);
  });

  it("refuses a move from anyone but the opponent, even one who can seal for the opponent's code", async () => {
    const g = await play(['e4', 'e5']);
    // Bob shares Alice's group key, so he can seal for Dana's code, with the right chain link.
    const byBob = await openMove(await sealMove(playMove(g.white, 'Nf3'), { sender: bob, recipient: sealFor, primitives: nodePrimitives }), { ...io, receiver: dana });
    await expectCode(() => acceptMove(g.black, D, byBob), 'REFUSED', /not sealed by your opponent/);
    // Erin's build (another of Alice's codes) seals for Alice; Alice's game is with Dana.
    const g1 = await play(['e4']);
    const byErin = await openMove(await sealMove(playMove(g1.black, 'e5'), { sender: erin, recipient: { kind: 'code', label: w.A.data.codes[1]!.serial }, primitives: nodePrimitives }), { ...io, receiver: alice });
    await expectCode(() => acceptMove(g1.white, A, byErin), 'REFUSED', /not sealed by your opponent/);
  });

  it('refuses an illegal move, a position that does not follow, a non-standard SAN and a foreign game id', async () => {
    const g = await play(['e4']);
    const base = playMove(g.black, 'e5');
    const sealAs = async (m: MovePlain) => openMove(await sealMove(m, { sender: dana, recipient: sealFor, primitives: nodePrimitives }), { ...io, receiver: alice });
    await expectCode(async () => acceptMove(g.white, A, await sealAs({ ...base, san: 'e4' })), 'REFUSED', /illegal move/);
    await expectCode(async () => acceptMove(g.white, A, await sealAs({ ...base, fen: base.fen.replace('KQkq', 'Qkq') })), 'REFUSED', /states a position/);
    await expectCode(async () => acceptMove(g.white, A, await sealAs({ ...base, san: 'e7e5' })), 'REFUSED', /standard notation|illegal/);
    await expectCode(async () => acceptMove(g.white, A, await sealAs({ ...base, gameId: 'g_ffffffffffffffffffffffff' })), 'REFUSED', /belongs to game/);
  });

  it('a third party cannot read a move; a changed byte is tampering; an oversized file is not a move', async () => {
    const g = await play(['e4']);
    await expectCode(openMove(g.files[0]!, { ...io, receiver: erin }), 'NOT_FOR_US');
    await expectCode(openMove(g.files[0]!, { ...io, receiver: partyOfCard(w.C) }), 'NOT_FOR_US');
    for (const at of [20, 300, g.files[0]!.length - 100, g.files[0]!.length - 1]) {
      const bad = g.files[0]!.slice();
      bad[at]! ^= 1;
      await expectCode(openMove(bad, { ...io, receiver: dana }), 'TAMPERED');
    }
    await expectCode(openMove(g.files[0]!.subarray(0, g.files[0]!.length - 10), { ...io, receiver: dana }), 'TAMPERED');
    await expectCode(openMove(new Uint8Array(MAX_MOVE_FILE + 1), { ...io, receiver: dana }), 'MALFORMED', /at most/);
  });

  it('refuses a sealed file that is not a move, and move payloads out of shape', async () => {
    const { sealBytes } = await import('../support/world.js');
    const other = await sealBytes(alice, [sealFor], new TextEncoder().encode('{"hello":1}'));
    await expectCode(openMove(other, { ...io, receiver: dana }), 'MALFORMED', /not a game move/);
    const good = playMove(startGame({ kind: 'build', keyKind: 'code', keyLabel: w.serialA }, sealFor), 'e4');
    for (const bad of [{ ...good, n: 0 }, { ...good, extra: 1 }, { ...good, prev: 'zz' }, { ...good, gameId: '../x' }])
      await expectCode(() => decodeMove(new TextEncoder().encode(JSON.stringify(bad))), 'MALFORMED');
    expect(() => encodeMove({ ...good, n: -1 })).toThrow();
  });

  it('checks a stored state before trusting it', async () => {
    const g = await play(['e4', 'e5']);
    expect(parseState(JSON.parse(JSON.stringify(g.white)))).toEqual(g.white);
    await expectCode(() => parseState({ ...g.white, moves: [g.white.moves[1], g.white.moves[0]] }), 'MALFORMED', /out of order/);
    await expectCode(() => parseState({ ...g.white, moves: [{ ...g.white.moves[0]!, san: 'e5' }] }), 'MALFORMED', /not legal/);
    await expectCode(() => parseState({ ...g.white, me: 'x' }), 'MALFORMED');
  });
});
