// What a game move costs beyond the container it travels in: per move, seal + open +
// the chain check (game/, chess.js replaying the record) against a plain seal + open
// of the same payload (the reference), and the replay of a long record alone.
//   npx tsx bench/game.ts [--plies N] [--rounds N]      (defaults: 80 plies, 5 rounds)
import { performance } from 'node:perf_hooks';
import { makeWorld, partyOfBuild, partyOfCard, sealBytes, openBytes } from '../tests/support/world.js';
import { encodeMove, playMove, positionOf, type GameState } from '../game/index.js';
import { exchange, newTable } from '../tests/support/game.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const plies = arg('plies', 80);
const rounds = arg('rounds', 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const w = makeWorld();
const alice = partyOfCard(w.A);
const dana = partyOfBuild(w.D1);
const sealFor = { kind: 'code' as const, label: w.serialA };

/** A long game of legal moves: always the first legal move chess.js lists, until the end or `n` plies. */
async function playGame(n: number): Promise<{ gameMs: number[]; plainMs: number[]; white: GameState }> {
  let t = newTable(alice, dana, w.issuer.publicKey);
  const gameMs: number[] = [];
  const plainMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const byWhite = i % 2 === 0;
    const chess = positionOf(byWhite ? t.white : t.black!);
    if (chess.isGameOver()) break;
    const san = chess.moves()[0]!;
    const body = encodeMove(playMove(byWhite ? t.white : t.black!, san));
    let t0 = performance.now();
    t = await exchange(t, san);
    gameMs.push(performance.now() - t0);
    // Reference: the same payload as an ordinary sealed file, sealed and opened.
    t0 = performance.now();
    const sealed = await sealBytes(byWhite ? alice : dana, [sealFor], body);
    await openBytes(byWhite ? dana : alice, sealed, w.issuer.publicKey);
    plainMs.push(performance.now() - t0);
  }
  return { gameMs, plainMs, white: t.white };
}

const perMove: number[] = [];
const perPlain: number[] = [];
let longest: GameState | null = null;
for (let r = 0; r < rounds; r++) {
  const g = await playGame(plies);
  perMove.push(median(g.gameMs));
  perPlain.push(median(g.plainMs));
  longest = g.white;
}
const replay: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  positionOf(longest!);
  replay.push(performance.now() - t);
}
const m = median(perMove);
const p = median(perPlain);
console.log(`game move (seal + open + chain check), median of per-game medians over ${rounds} games of up to ${plies} plies:`);
console.log(`  move file          ${m.toFixed(2)} ms`);
console.log(`  plain seal + open  ${p.toFixed(2)} ms (reference, same payload)`);
console.log(`  ratio              ${(m / p).toFixed(2)}x`);
console.log(`  replay of a ${longest!.moves.length}-ply record: ${median(replay).toFixed(2)} ms`);
