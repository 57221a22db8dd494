// The add-on's game logic with real keys and an in-memory record (no Thunderbird): what
// the pane is told for a good, an answered, a tampered, an out-of-sequence and a
// locked move, that a reply is sealed for the opponent and recorded, and that the
// board is a self-contained SVG.
import { describe, expect, it } from 'vitest';
import { makeWorld, partyOfBuild, partyOfCard } from '../support/world.js';
import { nodePrimitives } from '../../card/node.js';
import { GAME_MIME, acceptMove, moveHash, openMove, playMove, recordOwn, sealMove, startGame, type GameState } from '../../game/index.js';
import { replyMove, viewMove, type GameDeps } from '../../thunderbird-addon/lib/game-logic.js';
import { boardSvg } from '../../thunderbird-addon/lib/game-board.js';
import { beforeSend } from '../../thunderbird-addon/lib/compose-logic.js';
import { dedicatedPlan } from '../../thunderbird-addon/lib/plan.js';

const w = makeWorld();
const alice = partyOfCard(w.A);
const dana = partyOfBuild(w.D1);
const sealFor = { kind: 'code' as const, label: w.serialA };
const base = { attachment: 'm.sealgame', partName: '1.2' };

function danaDeps(locked = false): GameDeps & { store: Map<string, GameState> } {
  const store = new Map<string, GameState>();
  return {
    store,
    keys: async () => (locked ? { party: null, issuerPub: null, addressees: [], why: 'locked for the test' } : { party: dana, issuerPub: w.issuer.publicKey, addressees: [w.A.certBytes] }),
    load: async (id) => store.get(id) ?? null,
    findMove: async (hash) => {
      for (const state of store.values()) {
        const index = state.moves.findIndex((m) => m.hash === hash);
        if (index >= 0) return { state, index };
      }
      return null;
    },
    save: async (s) => void store.set(s.gameId, s),
    primitives: nodePrimitives,
  };
}

async function firstMove(san = 'e4'): Promise<{ file: Uint8Array; white: GameState }> {
  const white = startGame({ kind: 'build', keyKind: 'code', keyLabel: w.serialA }, sealFor);
  const plain = playMove(white, san);
  const file = await sealMove(plain, { sender: alice, recipient: sealFor, primitives: nodePrimitives });
  return { file, white: recordOwn(white, plain, moveHash(file)) };
}

describe('add-on game logic', () => {
  it("shows the board with the opponent's certified name and the legal replies", async () => {
    const { file } = await firstMove();
    const v = await viewMove(file, base, danaDeps());
    expect(v).toMatchObject({ kind: 'board', opponent: 'Alice <alice@example.test>', sealedBy: 'Alice <alice@example.test>', you: 'b', yourTurn: true, answered: false });
    expect(v.legal).toHaveLength(20);
    expect(v.status).toMatchObject({ turn: 'b', moveNumber: 1, over: false });
  });

  it('seals the reply for the opponent, records it, and then shows the move as answered', async () => {
    const { file, white } = await firstMove();
    const deps = danaDeps();
    const r = await replyMove(file, 'e5', deps);
    expect(r.file.type).toBe(GAME_MIME);
    expect(r.file.name).toMatch(/^g_[0-9a-f]{24}-002\.sealgame$/);
    const sealed = new Uint8Array(await r.file.arrayBuffer());
    const opened = await openMove(sealed, { receiver: alice, issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    expect(acceptMove(white, w.A.cert, opened).moves.map((m) => m.san)).toEqual(['e4', 'e5']);
    expect(await viewMove(file, base, deps)).toMatchObject({ kind: 'board', answered: true, yourTurn: false, legal: [] });
    expect(await viewMove(sealed, base, deps)).toMatchObject({ kind: 'board', sealedBy: 'you', yourTurn: false });
    await expect(replyMove(file, 'd5', deps)).rejects.toThrow(/already answered/);
    await expect(replyMove((await firstMove()).file, 'e4', deps)).rejects.toThrow(/illegal move/);
  });

  it('refuses a tampered move, one out of sequence and one for someone else, with no board', async () => {
    const { file } = await firstMove();
    const bad = file.slice();
    bad[bad.length - 3]! ^= 1;
    const tampered = await viewMove(bad, base, danaDeps());
    expect(tampered).toMatchObject({ kind: 'refused' });
    expect(tampered.reason).toMatch(/^tampered:/);
    expect(tampered.svg).toBeUndefined();
    // Move 3 of a game this add-on never saw.
    const game = await firstMove();
    const r2 = await replyMove(game.file, 'e5', danaDeps());
    const opened2 = await openMove(new Uint8Array(await r2.file.arrayBuffer()), { receiver: alice, issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    const third = await sealMove(playMove(acceptMove(game.white, w.A.cert, opened2), 'Nf3'), { sender: alice, recipient: sealFor, primitives: nodePrimitives });
    const fresh = await viewMove(third, base, danaDeps());
    expect(fresh).toMatchObject({ kind: 'refused' });
    expect(fresh.reason).toMatch(/out of sequence/);
    const other = partyOfBuild(w.build(w.A, w.g1, w.A.data.codes[1]!.serial));
    const notOurs = await viewMove(file, base, { ...danaDeps(), keys: async () => ({ party: other, issuerPub: w.issuer.publicKey, addressees: [] }) });
    expect(notOurs).toMatchObject({ kind: 'refused' });
    expect(await viewMove(file, base, danaDeps(true))).toMatchObject({ kind: 'locked', reason: 'locked for the test' });
  });

  it('draws a self-contained SVG board from either side', () => {
    const fen = 'rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1';
    const svg = boardSvg(fen, { bottom: 'b', lastMove: { from: 'e2', to: 'e4' } });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // Nothing fetched: no link, image, stylesheet or URL besides the SVG namespace.
    expect(svg.replace('http://www.w3.org/2000/svg', '')).not.toMatch(/href|<image|<style|url\(|https?:/i);
    expect(svg.match(/data-piece=/g)).toHaveLength(32);
    expect(svg.match(/data-square=/g)).toHaveLength(64);
    expect(svg).toContain('data-square="e4"');
    expect(() => boardSvg('not a fen', { bottom: 'w' })).toThrow();
  });

  it('sending the reply leaves the move file as it is while other attachments are sealed', async () => {
    const move = new File([(await firstMove()).file as BlobPart], 'g-002.sealgame', { type: GAME_MIME });
    const note = new File(['a note'], 'note.txt', { type: 'text/plain' });
    const atts = new Map<number, File>([[1, move], [2, note]]);
    let next = 3;
    await beforeSend(
      {
        listAttachments: async () => [...atts.entries()].map(([id, f]) => ({ id, name: f.name, size: f.size, contentType: f.type })),
        getAttachmentFile: async (id) => atts.get(id)!,
        removeAttachment: async (_t, id) => void atts.delete(id),
        addAttachment: async (_t, a) => void atts.set(next++, a.file),
        plan: async () => dedicatedPlan(w.D1, undefined),
        notify: () => undefined,
      },
      1,
      {},
    );
    expect([...atts.values()].map((f) => f.name)).toEqual(['g-002.sealgame', 'note.txt.seal']);
    expect(atts.get(1)).toBe(move);
  });
});
