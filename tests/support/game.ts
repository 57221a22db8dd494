// A game between a card (white) and a build of its code (black), played in process with
// real keys: each move sealed by its player, opened and chain-checked by the other, and
// recorded on both sides. For tests and benches of game/.
import type { Party } from '../../card/party.js';
import { decodeCert } from '../../card/certs.js';
import { nodePrimitives } from '../../card/node.js';
import { acceptMove, openMove, playMove, recordOwn, sealMove, startGame, type GameState } from '../../game/index.js';

export interface Table {
  card: Party;
  build: Party;
  issuerPub: Uint8Array;
  white: GameState;
  black: GameState | null;
  files: Uint8Array[];
}

export function newTable(card: Party, build: Party, issuerPub: Uint8Array): Table {
  const b = decodeCert(build.certificate);
  if (b.type !== 'build') throw new Error('black must be a build');
  const sealFor = { kind: b.keyKind, label: b.keyLabel };
  return { card, build, issuerPub, white: startGame({ kind: 'build', keyKind: b.keyKind, keyLabel: b.keyLabel }, sealFor), black: null, files: [] };
}

/** Plays `san` for whoever is to move; the other side opens, checks and records it. */
export async function exchange(t: Table, san: string): Promise<Table> {
  const byWhite = t.files.length % 2 === 0;
  const [sender, receiver] = byWhite ? [t.card, t.build] : [t.build, t.card];
  const plain = playMove(byWhite ? t.white : t.black!, san);
  const addressees = byWhite ? [] : [t.card.certificate];
  const file = await sealMove(plain, { sender, recipient: t.white.sealFor, addressees, primitives: nodePrimitives });
  const opened = await openMove(file, { receiver, issuerPub: t.issuerPub, primitives: nodePrimitives });
  const self = decodeCert(receiver.certificate);
  return byWhite
    ? { ...t, white: recordOwn(t.white, plain, opened.hash), black: acceptMove(t.black, self, opened), files: [...t.files, file] }
    : { ...t, black: recordOwn(t.black!, plain, opened.hash), white: acceptMove(t.white, self, opened), files: [...t.files, file] };
}

export async function playOut(card: Party, build: Party, issuerPub: Uint8Array, sans: string[]): Promise<Table> {
  let t = newTable(card, build, issuerPub);
  for (const san of sans) t = await exchange(t, san);
  return t;
}
