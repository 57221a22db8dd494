// The game move file (docs/FORMAT.md §19): a sealcode container whose payload is one
// small JSON document. Pure: no Node, so the add-on bundles it as the CLI runs it.
import { z } from 'zod';
import { fromUtf8, utf8 } from '../card/bytes.js';
import { malformed } from '../card/errors.js';

export const GAME_EXTENSION = '.sealgame';
/** The attachment's MIME type, so mail clients and gateways can tell a move from a plain seal. */
export const GAME_MIME = 'application/x-sealcode-game';
/** The type recorded in the container's encrypted metadata. */
export const MOVE_PAYLOAD_TYPE = 'application/x-sealcode-game-move+json';
/** A move file is a few hundred bytes; anything far larger is not one. */
export const MAX_MOVE_FILE = 64 * 1024;
/** `prev` of a game's first move. */
export const NO_PREVIOUS = '0'.repeat(64);
/** More plies than any real game; bounds what a receiver replays. */
export const MAX_PLIES = 1200;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
export const gameIdSchema = z.string().regex(/^g_[0-9a-f]{24}$/);

export const movePlainSchema = z
  .object({
    sealcode: z.literal('game-move'),
    v: z.literal(1),
    game: z.literal('chess'),
    gameId: gameIdSchema,
    n: z.number().int().min(1).max(MAX_PLIES),
    san: z.string().min(2).max(10),
    fen: z.string().min(10).max(100),
    prev: hex64,
  })
  .strict();

export type MovePlain = z.infer<typeof movePlainSchema>;

export function encodeMove(m: MovePlain): Uint8Array {
  // A fixed key order keeps the encoding (and so the vectors) deterministic.
  const { sealcode, v, game, gameId, n, san, fen, prev } = movePlainSchema.parse(m);
  return utf8(JSON.stringify({ sealcode, v, game, gameId, n, san, fen, prev }));
}

export function decodeMove(bytes: Uint8Array): MovePlain {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(bytes));
  } catch {
    throw malformed('not a game move: the payload is not JSON');
  }
  const r = movePlainSchema.safeParse(json);
  if (!r.success) throw malformed('not a game move: ' + r.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
  return r.data;
}

/** The name recorded in the container's metadata for move n of a game. */
export const moveFileName = (gameId: string, n: number): string => `${gameId}-${n}.json`;

/** What a mail attachment of move n is called. */
export const moveAttachmentName = (gameId: string, n: number): string => `${gameId}-${String(n).padStart(3, '0')}${GAME_EXTENSION}`;

/** Whether a mail part is a move file, by MIME type or name: what gateways and mail clients key on. */
export const isGameMovePart = (type: string | undefined, name: string | undefined): boolean =>
  (type ?? '').toLowerCase().trim() === GAME_MIME || (name ?? '').toLowerCase().endsWith(GAME_EXTENSION);
