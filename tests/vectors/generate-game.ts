// Writes the game move vectors of docs/FORMAT.md §19 into tests/vectors/game.json:
//   npx tsx tests/vectors/generate-game.ts
// Fool's mate between card A (white) and build D1 of A's code (black), with the
// parties of keys.json, a fixed time and fixed randomness: running it again writes the
// same file. tests/game/vectors.test.ts checks it without importing this script.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { concat, decodeCert, sha256, toHex, utf8 } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { acceptMove, encodeMove, playMove, recordOwn, sealMove, startGame, type GameState } from '../../game/index.js';
import { partiesOf, type VectorKeys } from './parties.js';
import keysJson from './keys.json' with { type: 'json' };

const here = dirname(fileURLToPath(import.meta.url));
const keys = keysJson as unknown as VectorKeys;
const parties = partiesOf(keys);
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const GAME_ID = 'g_00112233445566778899aabb';
const SANS = ['f3', 'e5', 'g4', 'Qh4#'];

function recorder(label: string): { random: (n: number) => Uint8Array; used: string[] } {
  const used: string[] = [];
  let counter = 0;
  return {
    used,
    random(n) {
      let out: Uint8Array = new Uint8Array(0);
      while (out.length < n) out = concat(out, sha256(utf8(`sealcode game vectors\0${label}/${counter++}`)));
      const b = out.slice(0, n);
      used.push(toHex(b));
      return b;
    },
  };
}

const A = decodeCert(parties.A!.certificate);
const D1 = decodeCert(parties.D1!.certificate);
if (D1.type !== 'build') throw new Error('D1 is not a build');
const sealFor = { kind: D1.keyKind, label: D1.keyLabel };
let white: GameState = startGame({ kind: 'build', keyKind: D1.keyKind, keyLabel: D1.keyLabel }, sealFor, GAME_ID);
let black: GameState | null = null;
const moves = [];
for (const [i, san] of SANS.entries()) {
  const byWhite = i % 2 === 0;
  const mover = byWhite ? white : black!;
  const plain = playMove(mover, san);
  const rec = recorder(`move ${plain.n}`);
  const sender = byWhite ? 'A' : 'D1';
  const addressees = byWhite ? [] : ['A'];
  const file = await sealMove(plain, {
    sender: parties[sender]!,
    recipient: sealFor,
    addressees: addressees.map((a) => parties[a]!.certificate),
    primitives: nodePrimitives,
    now: NOW + i * 60_000,
    random: rec.random,
  });
  const hash = toHex(sha256(file));
  const origin = decodeCert(parties[sender]!.certificate);
  if (byWhite) {
    white = recordOwn(white, plain, hash);
    black = acceptMove(black, D1, { plain, origin, hash });
  } else {
    black = recordOwn(black!, plain, hash);
    white = acceptMove(white, A, { plain, origin, hash });
  }
  moves.push({ n: plain.n, sender, addressees, recipient: sealFor, now: NOW + i * 60_000, random: rec.used, payload: new TextDecoder().decode(encodeMove(plain)), sha256: hash, file: toHex(file) });
}
writeFileSync(
  join(here, 'game.json'),
  JSON.stringify(
    {
      note: 'Game move files (FORMAT.md §19): fool\'s mate, card A (white) against build D1 of its code (black), parties from keys.json. `payload` is the exact plaintext; `sha256` of `file` is the next move\'s `prev`.',
      gameId: GAME_ID,
      result: '0-1',
      moves,
    },
    null,
    1,
  ) + '\n',
);
console.log(`wrote ${moves.length} moves`);
