// What the add-on does with a received move file: certify and open it with this
// build's or card's keys, check it against the game's record (game/chain.ts), and
// either describe the board or say why it is refused. Playing a reply seals the next
// move and records it. Keys, storage and Thunderbird come in as dependencies.
import { decodeCert, type Cert } from '../../card/certs.js';
import { isSealError } from '../../card/errors.js';
import type { Party } from '../../card/party.js';
import type { Primitives } from '../../card/container/primitives.js';
import { GAME_MIME, moveAttachmentName } from '../../game/format.js';
import { moveHash, openMove, sealMove, type OpenedMove } from '../../game/sealed.js';
import { acceptMove, playMove, playerName, positionOf, recordOwn, statusOf, type GameState, type GameStatus, type Color } from '../../game/chain.js';
import { boardSvg } from './game-board.js';

export interface GameKeys {
  party: Party | null;
  issuerPub: Uint8Array | null;
  /** Certificates named in our moves (a build names its purchaser's card). */
  addressees: Uint8Array[];
  /** Why there are no keys (a locked card, the unstamped template). */
  why?: string;
}

export interface GameDeps {
  keys(): Promise<GameKeys>;
  load(gameId: string): Promise<GameState | null>;
  /** The recorded game holding a move file with this hash. */
  findMove(hash: string): Promise<{ state: GameState; index: number } | null>;
  save(s: GameState): Promise<void>;
  primitives?: Primitives;
  now?: number;
}

export interface GameView {
  attachment: string;
  partName: string;
  kind: 'board' | 'refused' | 'locked';
  reason?: string;
  gameId?: string;
  opponent?: string;
  /** The certified sender of this move file. */
  sealedBy?: string;
  you?: Color;
  status?: GameStatus;
  lastMove?: { n: number; san: string; by: Color };
  svg?: string;
  /** Legal replies (SAN) when it is our move. */
  legal?: string[];
  yourTurn?: boolean;
  /** Already answered: the move is in the record. */
  answered?: boolean;
}

function describe(state: GameState, upto: number, base: Pick<GameView, 'attachment' | 'partName'>, sealedBy: string | undefined, answered: boolean): GameView {
  const chess = positionOf(state, upto);
  const status = statusOf(chess, upto);
  const last = state.moves[upto - 1];
  const verbose = chess.history({ verbose: true }).at(-1);
  const yourTurn = !answered && !status.over && status.turn === state.me;
  const opponent = state.opponent.name ?? (state.opponent.kind === 'card' ? state.opponent.cardId : `${state.opponent.keyKind} ${state.opponent.keyLabel}`);
  return {
    ...base,
    kind: 'board',
    gameId: state.gameId,
    opponent,
    sealedBy,
    you: state.me,
    status,
    lastMove: last ? { n: last.n, san: last.san, by: last.by } : undefined,
    svg: boardSvg(status.fen, { bottom: state.me, lastMove: verbose ? { from: verbose.from, to: verbose.to } : undefined, title: `game with ${opponent}` }),
    legal: yourTurn ? chess.moves() : [],
    yourTurn,
    answered,
  };
}

/** Opens the file and accepts it into (a copy of) its game's record; throws on any refusal. */
async function accept(file: Uint8Array, keys: GameKeys, deps: GameDeps): Promise<{ opened: OpenedMove; state: GameState; self: Cert }> {
  const self = decodeCert(keys.party!.certificate);
  const opened = await openMove(file, { receiver: keys.party!, issuerPub: keys.issuerPub!, primitives: deps.primitives, now: deps.now });
  return { opened, state: acceptMove(await deps.load(opened.plain.gameId), self, opened), self };
}

const refusal = (e: unknown): string => {
  if (!isSealError(e)) return e instanceof Error ? e.message : String(e);
  const why = e.message.replace(/^not certified:\s*/i, '');
  return e.code === 'TAMPERED' ? `tampered: ${why}` : why;
};

export async function viewMove(file: Uint8Array, base: Pick<GameView, 'attachment' | 'partName'>, deps: GameDeps): Promise<GameView> {
  try {
    const seen = await deps.findMove(moveHash(file));
    if (seen) {
      const m = seen.state.moves[seen.index]!;
      // Our own move (sent, then seen again) or one already answered: shown, not playable.
      return describe(seen.state, seen.index + 1, base, m.by === seen.state.me ? 'you' : seen.state.opponent.name, true);
    }
    const keys = await deps.keys();
    if (!keys.party || !keys.issuerPub) return { ...base, kind: 'locked', reason: keys.why ?? 'no keys to open this move' };
    const { opened, state } = await accept(file, keys, deps);
    return describe(state, state.moves.length, base, playerName(opened.origin), false);
  } catch (e) {
    return { ...base, kind: 'refused', reason: refusal(e) };
  }
}

/** Accepts the received move, plays `san`, seals it for the opponent and records both. */
export async function replyMove(file: Uint8Array, san: string, deps: GameDeps): Promise<{ file: File; state: GameState; n: number }> {
  if (await deps.findMove(moveHash(file))) throw new Error('this move was already answered');
  const keys = await deps.keys();
  if (!keys.party || !keys.issuerPub) throw new Error(keys.why ?? 'no keys to open this move');
  const { state } = await accept(file, keys, deps);
  const plain = playMove(state, san);
  const sealed = await sealMove(plain, { sender: keys.party, recipient: state.sealFor, addressees: keys.addressees, primitives: deps.primitives, now: deps.now });
  const next = recordOwn(state, plain, moveHash(sealed));
  await deps.save(next);
  return { file: new File([sealed as BlobPart], moveAttachmentName(plain.gameId, plain.n), { type: GAME_MIME }), state: next, n: plain.n };
}
