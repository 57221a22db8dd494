// The rules of a game by mail: who may move, in what order, and what a move must say.
// Pure: a state and an opened move in, a new state out; every refusal is a SealError
// (REFUSED for a move that is authentic but not acceptable). Chess itself is chess.js.
import { Chess } from 'chess.js';
import { z } from 'zod';
import { randomBytes } from '@noble/hashes/utils.js';
import { equalBytes, toHex } from '../card/bytes.js';
import type { Cert } from '../card/certs.js';
import { SealError, malformed } from '../card/errors.js';
import type { RecipientSpec } from '../card/stanza.js';
import { MAX_PLIES, NO_PREVIOUS, gameIdSchema, type MovePlain } from './format.js';

export type Color = 'w' | 'b';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const opponentSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('build'), keyKind: z.enum(['code', 'id']), keyLabel: z.string().min(1).max(64), buildId: z.string().optional(), name: z.string().optional() }).strict(),
  z.object({ kind: z.literal('card'), cardId: z.string().min(1), name: z.string().optional() }).strict(),
]);
export type Opponent = z.infer<typeof opponentSchema>;

export const gameStateSchema = z
  .object({
    sealcode: z.literal('game-state'),
    v: z.literal(1),
    game: z.literal('chess'),
    gameId: gameIdSchema,
    me: z.enum(['w', 'b']),
    opponent: opponentSchema,
    sealFor: z.object({ kind: z.enum(['code', 'id']), label: z.string().min(1).max(64) }).strict(),
    moves: z.array(z.object({ n: z.number().int().min(1), san: z.string(), by: z.enum(['w', 'b']), hash: hex64 }).strict()).max(MAX_PLIES),
  })
  .strict();
export type GameState = z.infer<typeof gameStateSchema>;

export const newGameId = (): string => `g_${toHex(randomBytes(12))}`;

const refused = (msg: string): SealError => new SealError('REFUSED', msg);
const colourOfPly = (n: number): Color => (n % 2 === 1 ? 'w' : 'b');

/** The name a player is shown for the other side. */
export function playerName(c: Cert): string {
  return c.type === 'card' ? `${c.name} <${c.email}>` : `${c.redeemerEmail} (code ${c.serial})`;
}

/** The position after the first `upto` plies (all by default), replayed so draw rules see the history. */
export function positionOf(s: GameState, upto = s.moves.length): Chess {
  const chess = new Chess();
  for (const m of s.moves.slice(0, upto)) {
    try {
      chess.move(m.san, { strict: true });
    } catch {
      throw malformed(`game ${s.gameId}: recorded move ${m.n} (${m.san}) is not legal`);
    }
  }
  return chess;
}

export interface GameStatus {
  fen: string;
  turn: Color;
  moveNumber: number;
  over: boolean;
  result: '1-0' | '0-1' | '1/2-1/2' | null;
  reason: 'checkmate' | 'stalemate' | 'threefold repetition' | 'insufficient material' | 'fifty-move rule' | null;
}

export function statusOf(chess: Chess, plies: number): GameStatus {
  const turn = chess.turn();
  let reason: GameStatus['reason'] = null;
  if (chess.isCheckmate()) reason = 'checkmate';
  else if (chess.isStalemate()) reason = 'stalemate';
  else if (chess.isThreefoldRepetition()) reason = 'threefold repetition';
  else if (chess.isInsufficientMaterial()) reason = 'insufficient material';
  else if (chess.isDraw()) reason = 'fifty-move rule';
  const result = reason === null ? null : reason === 'checkmate' ? (turn === 'w' ? '0-1' : '1-0') : '1/2-1/2';
  return { fen: chess.fen(), turn, moveNumber: plies, over: reason !== null, result, reason };
}

/** Checks a state read from storage: its shape, and that its moves replay. */
export function parseState(json: unknown): GameState {
  const r = gameStateSchema.safeParse(json);
  if (!r.success) throw malformed('not a game state: ' + r.error.issues.map((i) => i.path.join('.') + ': ' + i.message).join('; '));
  r.data.moves.forEach((m, i) => {
    if (m.n !== i + 1 || m.by !== colourOfPly(m.n)) throw malformed(`game ${r.data.gameId}: recorded moves out of order`);
  });
  positionOf(r.data);
  return r.data;
}

const lastHash = (s: GameState): string => s.moves.at(-1)?.hash ?? NO_PREVIOUS;

/** Plays `san` (any notation chess.js accepts) from our side: the move to seal. */
export function playMove(s: GameState, san: string): MovePlain {
  const chess = positionOf(s);
  const st = statusOf(chess, s.moves.length);
  if (st.over) throw refused(`the game is over (${st.result}, ${st.reason})`);
  if (chess.turn() !== s.me) throw refused("it is your opponent's turn: wait for their move");
  let played;
  try {
    played = chess.move(san);
  } catch {
    throw refused(`illegal move ${JSON.stringify(san.slice(0, 12))} in ${chess.fen()}`);
  }
  return { sealcode: 'game-move', v: 1, game: 'chess', gameId: s.gameId, n: s.moves.length + 1, san: played.san, fen: chess.fen(), prev: lastHash(s) };
}

/** A new game with us as white, against `opponent`, sealed for `sealFor`. */
export function startGame(opponent: Opponent, sealFor: RecipientSpec, gameId = newGameId()): GameState {
  if (sealFor.kind !== 'code' && sealFor.kind !== 'id') throw new SealError('USAGE', 'a game is sealed for a code or an ID');
  return { sealcode: 'game-state', v: 1, game: 'chess', gameId, me: 'w', opponent, sealFor: { kind: sealFor.kind, label: sealFor.label }, moves: [] };
}

/** The state once our own sealed move (from playMove) is on its way. */
export function recordOwn(s: GameState, m: MovePlain, hash: string): GameState {
  if (m.gameId !== s.gameId || m.n !== s.moves.length + 1 || m.prev !== lastHash(s)) throw new SealError('USAGE', 'this move does not follow the game');
  return { ...s, moves: [...s.moves, { n: m.n, san: m.san, by: colourOfPly(m.n), hash }] };
}

export interface Incoming {
  plain: MovePlain;
  origin: Cert;
  hash: string;
}

/** Whom a first move comes from, seen from `self`: only a card and a build of its own code play. */
function opponentOfFirst(self: Cert, origin: Cert): Pick<GameState, 'opponent' | 'sealFor'> {
  if (self.type === 'card') {
    if (origin.type !== 'build' || origin.cardId !== self.cardId) throw refused('a game is played only with a dedicated build of one of your codes');
    return {
      opponent: { kind: 'build', keyKind: origin.keyKind, keyLabel: origin.keyLabel, buildId: origin.buildId, name: playerName(origin) },
      sealFor: { kind: origin.keyKind, label: origin.keyLabel },
    };
  }
  if (origin.type !== 'card' || origin.cardId !== self.cardId) throw refused("a dedicated build plays only its purchaser's card");
  return { opponent: { kind: 'card', cardId: origin.cardId, name: playerName(origin) }, sealFor: { kind: self.keyKind, label: self.keyLabel } };
}

/** Whether `origin` is the opponent the game was started with (a build is pinned at its first move). */
function isOpponent(s: GameState, self: Cert, origin: Cert): boolean {
  const o = s.opponent;
  if (o.kind === 'card') return origin.type === 'card' && origin.cardId === o.cardId;
  return (
    origin.type === 'build' &&
    origin.keyKind === o.keyKind &&
    origin.keyLabel === o.keyLabel &&
    origin.cardId === (self.type === 'card' ? self.cardId : '') &&
    (o.buildId === undefined || origin.buildId === o.buildId)
  );
}

/**
 * Accepts the opponent's move into the game (null: none recorded yet, so it must be a
 * first move). Refuses our own move, a move from anyone else, a replayed, reordered or
 * dropped move, an illegal one, and one whose stated position is not the real one.
 */
export function acceptMove(s: GameState | null, self: Cert, m: Incoming): GameState {
  const { plain } = m;
  if (equalBytes(m.origin.signPub, self.signPub)) throw refused('this is your own move: it is out of turn to answer it');
  if (s && s.moves.some((x) => x.hash === m.hash)) throw refused(`move ${plain.n} of game ${plain.gameId} was already received: a replay`);
  let state: GameState;
  if (s) {
    if (plain.gameId !== s.gameId) throw refused(`this move belongs to game ${plain.gameId}, not ${s.gameId}`);
    if (!isOpponent(s, self, m.origin)) throw refused(`this move was not sealed by your opponent in game ${s.gameId}`);
    state = s;
  } else {
    if (plain.n !== 1) throw refused(`move ${plain.n} of game ${plain.gameId}, a game you have no record of: out of sequence`);
    const first = opponentOfFirst(self, m.origin);
    state = { sealcode: 'game-state', v: 1, game: 'chess', gameId: plain.gameId, me: 'b', ...first, moves: [] };
  }
  if (plain.n !== state.moves.length + 1 || plain.prev !== lastHash(state))
    throw refused(`move ${plain.n} does not follow move ${state.moves.length} of game ${state.gameId}: out of sequence`);
  if (colourOfPly(plain.n) === state.me) throw refused(`move ${plain.n} is yours to play, not your opponent's: out of turn`);
  const chess = positionOf(state);
  if (statusOf(chess, state.moves.length).over) throw refused('the game is already over');
  let played;
  try {
    played = chess.move(plain.san, { strict: true });
  } catch {
    throw refused(`illegal move ${JSON.stringify(plain.san)} at move ${plain.n}`);
  }
  if (played.san !== plain.san) throw refused(`move ${plain.n} is not in standard notation (${plain.san} for ${played.san})`);
  if (chess.fen() !== plain.fen) throw refused(`move ${plain.n} states a position that is not the one after ${plain.san}`);
  return {
    ...state,
    opponent: state.opponent.kind === 'build' && m.origin.type === 'build' ? { ...state.opponent, buildId: m.origin.buildId, name: playerName(m.origin) } : state.opponent,
    moves: [...state.moves, { n: plain.n, san: plain.san, by: colourOfPly(plain.n), hash: m.hash }],
  };
}
