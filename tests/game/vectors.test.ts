// The game move vectors of docs/FORMAT.md §19, both ways: each recorded move file
// re-seals to the same bytes, opens for the other player to the recorded payload, and
// the chain of hashes accepts them in order. Reads only the JSON files.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCert, fromHex, toHex, type RecipientSpec } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { acceptMove, decodeMove, moveHash, openMove, positionOf, recordOwn, sealMove, startGame, statusOf, type GameState } from '../../game/index.js';
import { partiesOf, replay, type VectorKeys } from '../vectors/parties.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const keys = load<VectorKeys>('keys.json');
interface MoveVector {
  n: number;
  sender: string;
  addressees: string[];
  recipient: RecipientSpec;
  now: number;
  random: string[];
  payload: string;
  sha256: string;
  file: string;
}
const vec = load<{ gameId: string; result: string; moves: MoveVector[] }>('game.json');
const parties = partiesOf(keys);
const issuerPub = fromHex(keys.issuer.public);

describe('game move vectors', () => {
  it('re-seal to the same bytes, and hash to the recorded sha256', async () => {
    for (const m of vec.moves) {
      const file = await sealMove(decodeMove(new TextEncoder().encode(m.payload)), {
        sender: parties[m.sender]!,
        recipient: m.recipient,
        addressees: m.addressees.map((a) => parties[a]!.certificate),
        now: m.now,
        random: replay(m.random),
        primitives: nodePrimitives,
      });
      expect(toHex(file)).toBe(m.file);
      expect(moveHash(file)).toBe(m.sha256);
    }
  });

  it('open for the other player and chain in order, ending in the recorded result', async () => {
    const A = decodeCert(parties.A!.certificate);
    const D1 = decodeCert(parties.D1!.certificate);
    let white: GameState = startGame({ kind: 'build', keyKind: 'code', keyLabel: vec.moves[0]!.recipient.label }, vec.moves[0]!.recipient, vec.gameId);
    let black: GameState | null = null;
    for (const m of vec.moves) {
      const byWhite = m.sender === 'A';
      const opened = await openMove(fromHex(m.file), { receiver: parties[byWhite ? 'D1' : 'A']!, issuerPub, now: m.now, primitives: nodePrimitives });
      expect(JSON.stringify(opened.plain)).toBe(m.payload);
      expect(opened.hash).toBe(m.sha256);
      expect(opened.plain.prev).toBe(m.n === 1 ? '0'.repeat(64) : vec.moves[m.n - 2]!.sha256);
      if (byWhite) {
        white = recordOwn(white, opened.plain, opened.hash);
        black = acceptMove(black, D1, opened);
      } else {
        black = recordOwn(black!, opened.plain, opened.hash);
        white = acceptMove(white, A, opened);
      }
    }
    for (const s of [white, black!]) {
      const st = statusOf(positionOf(s), s.moves.length);
      expect([st.over, st.result, st.moveNumber]).toEqual([true, vec.result, 4]);
    }
  });
});
