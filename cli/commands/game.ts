// `sealcode game new|move|show`: correspondence chess over sealed move files between a
// card and a dedicated build of one of its codes (patent Fig. 7, claim 6). The rules
// are game/; this file loads the player, keeps the game's record and writes the files.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { loadCard } from '../card-file.js';
import { loadBuildProfile } from '../build-profile.js';
import { checkTarget, readInput, writeFileAtomic } from '../files.js';
import { recipientFor } from '../recipients.js';
import { GameStore } from '../game-store.js';
import { nodePrimitives } from '../../card/node.js';
import { buildParty, buildRecipient, cardParty, type Party } from '../../card/party.js';
import { cardSecretsOf } from '../../card/cardfile.js';
import { profileCerts, profileSecrets } from '../../card/profile.js';
import { decodeCert, type Cert } from '../../card/certs.js';
import { fromBase64 } from '../../card/bytes.js';
import { SealError, malformed } from '../../card/errors.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { MAX_MOVE_FILE } from '../../game/format.js';
import { moveHash, openMove, sealMove } from '../../game/sealed.js';
import { acceptMove, playMove, playerName, positionOf, recordOwn, startGame, statusOf, type GameState, type Opponent } from '../../game/chain.js';

interface GameOpts extends PassphraseOptions {
  card?: string;
  build?: string;
  json?: boolean;
}

interface Seat {
  party: Party;
  self: Cert;
  issuerPub: Uint8Array;
  store: GameStore;
  /** Certificates named in our move files, so a gateway certifies them keylessly. */
  addressees: Uint8Array[];
  /** For a card: the recipient of `--with`; for a build: its purchaser. */
  opponentFor(withArg?: string): { opponent: Opponent; sealFor: RecipientSpec };
}

const usage = (m: string): CliError => new CliError(m, EXIT.usage, 'USAGE');

async function loadSeat(o: GameOpts): Promise<Seat> {
  if (Boolean(o.card) === Boolean(o.build)) throw usage('give exactly one of --card FILE or --build PROFILE');
  if (o.card) {
    const { data } = await loadCard(o.card, o);
    const self = decodeCert(fromBase64(data.cert));
    return {
      party: cardParty(cardSecretsOf(data)),
      self,
      issuerPub: fromBase64(data.issuerPublicKey),
      store: GameStore.beside(o.card),
      addressees: [],
      opponentFor(withArg) {
        if (!withArg) throw usage('--with SERIAL_OR_ID is required with a card: the code (or ID) whose dedicated build you play');
        const r = recipientFor(withArg.trim(), data);
        if (r.kind !== 'code' && r.kind !== 'id') throw usage('--with names a code serial or an ID: a game is played with a dedicated build');
        if (r.kind === 'code' && !data.codes.some((c) => c.serial === r.label)) throw usage(`${r.label} is not one of this card's codes`);
        return { opponent: { kind: 'build', keyKind: r.kind, keyLabel: r.label }, sealFor: r };
      },
    };
  }
  const profile = loadBuildProfile(o.build!);
  if (Date.now() > profile.expires)
    throw new SealError('EXPIRED', `this dedicated build expired on ${new Date(profile.expires).toISOString().slice(0, 10)}`);
  const { build, purchaser } = profileCerts(profile);
  return {
    party: buildParty(profileSecrets(profile)),
    self: build,
    issuerPub: fromBase64(profile.issuerPublicKey),
    store: GameStore.beside(o.build!),
    addressees: [fromBase64(profile.purchaserCert)],
    opponentFor(withArg) {
      if (withArg) throw usage('a dedicated build always plays its purchaser: leave out --with');
      return { opponent: { kind: 'card', cardId: purchaser.cardId, name: playerName(purchaser) }, sealFor: buildRecipient(build) };
    },
  };
}

function readMoveFile(file: string): Uint8Array {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw usage(`cannot read the move file ${file}`);
  }
  if (size > MAX_MOVE_FILE) throw malformed(`${file} is ${size} bytes: not a game move (at most ${MAX_MOVE_FILE})`);
  return new Uint8Array(readInput(file, 'the move file'));
}

/** Seals our move, writes it to `out`, then records it; the file goes again if the record fails. */
async function sendMove(seat: Seat, state: GameState, san: string, out: string): Promise<GameState> {
  const plain = playMove(state, san);
  const file = await sealMove(plain, { sender: seat.party, recipient: state.sealFor, addressees: seat.addressees, primitives: nodePrimitives });
  const next = recordOwn(state, plain, moveHash(file));
  writeFileAtomic(out, file);
  try {
    seat.store.save(next);
  } catch (e) {
    fs.rmSync(out, { force: true });
    throw e;
  }
  return next;
}

function report(state: GameState, upto = state.moves.length) {
  const chess = positionOf(state, upto);
  const st = statusOf(chess, upto);
  const last = state.moves[upto - 1];
  return {
    json: {
      gameId: state.gameId,
      ...st,
      lastMove: last ? { n: last.n, san: last.san, by: last.by } : null,
      you: state.me,
      yourTurn: !st.over && st.turn === state.me,
      opponent: state.opponent.name ?? (state.opponent.kind === 'card' ? state.opponent.cardId : `${state.opponent.keyKind} ${state.opponent.keyLabel}`),
      moves: state.moves.slice(0, upto).map((m) => m.san),
    },
    board: chess.ascii(),
  };
}

function human(r: ReturnType<typeof report>): string {
  const j = r.json;
  const side = (c: string): string => (c === 'w' ? 'white' : 'black');
  const state = j.over ? `game over: ${j.result} (${j.reason})` : j.yourTurn ? `your move (${side(j.you)})` : `${side(j.turn)} to move: waiting for ${j.opponent}`;
  return [
    `game ${j.gameId}: you play ${side(j.you)} against ${j.opponent}`,
    r.board.trimEnd(),
    j.lastMove ? `last move: ${j.lastMove.n}. ${j.lastMove.san} (${side(j.lastMove.by)})` : 'no move yet',
    state,
  ].join('\n');
}

const gameCommand = (group: Command, name: string, description: string): Command =>
  passphraseOption(
    group
      .command(name)
      .description(description)
      .option('--card <card_file>', 'play with this sealed card file')
      .option('--build <profile>', 'play with this dedicated profile (JSON) or stamped add-on (XPI)'),
  ).option('--json', 'print JSON');

export function register(program: Command): void {
  const game = program.command('game').description('correspondence chess by sealed move files, between a card and a dedicated build of its code');
  game.exitOverride().showHelpAfterError();

  gameCommand(game, 'new', 'start a game as white with its first move, sealed for the other player')
    .option('--with <serial|id>', 'with a card: the code serial (or ID) whose dedicated build you play')
    .requiredOption('--move <san>', 'the first move, e.g. e4 or f3')
    .requiredOption('--out <file>', 'where to write the sealed move (NAME.sealgame)')
    .action(
      action(async (o: GameOpts & { with?: string; move: string; out: string }) => {
        checkTarget(o.out);
        const seat = await loadSeat(o);
        const { opponent, sealFor } = seat.opponentFor(o.with);
        const next = await sendMove(seat, startGame(opponent, sealFor), o.move, o.out);
        const r = report(next);
        print(o, { ...r.json, output: path.resolve(o.out) }, () => `${human(r)}\nsealed move 1 → ${o.out}`);
      }),
    );

  gameCommand(game, 'move', "check the opponent's move, apply it, then play yours and seal it for them")
    .argument('<last>', "the opponent's last move file")
    .argument('<san>', 'your move, e.g. e5 or Qh4#')
    .requiredOption('--out <file>', 'where to write your sealed move')
    .action(
      action(async (last: string, san: string, o: GameOpts & { out: string }) => {
        checkTarget(o.out);
        const seat = await loadSeat(o);
        const file = readMoveFile(last);
        const seen = seat.store.findMove(moveHash(file));
        if (seen) {
          const m = seen.state.moves[seen.index]!;
          throw new SealError('REFUSED', m.by === seen.state.me ? `${last} is your own move ${m.n}: it is out of turn to answer it` : `${last} (move ${m.n}) was already received: a replay`);
        }
        const opened = await openMove(file, { receiver: seat.party, issuerPub: seat.issuerPub, primitives: nodePrimitives });
        const next = await seat.store.locked(opened.plain.gameId, async () => {
          const accepted = acceptMove(seat.store.load(opened.plain.gameId), seat.self, opened);
          return sendMove(seat, accepted, san, o.out);
        });
        const r = report(next);
        print(o, { ...r.json, output: path.resolve(o.out) }, () => `${human(r)}\nsealed move ${next.moves.length} → ${o.out}`);
      }),
    );

  gameCommand(game, 'show', 'show the board after a move file, whose turn it is and the result')
    .argument('<file>', 'a move file of one of your games (yours or your opponent\'s)')
    .action(
      action(async (input: string, o: GameOpts) => {
        const seat = await loadSeat(o);
        const file = readMoveFile(input);
        const seen = seat.store.findMove(moveHash(file));
        let r: ReturnType<typeof report>;
        let recorded = true;
        if (seen) r = report(seen.state, seen.index + 1);
        else {
          // Not yet played on: it must be the next move of one of our games (or a first move).
          const opened = await openMove(file, { receiver: seat.party, issuerPub: seat.issuerPub, primitives: nodePrimitives });
          r = report(acceptMove(seat.store.load(opened.plain.gameId), seat.self, opened));
          recorded = false;
        }
        print(o, { ...r.json, recorded }, () => human(r));
      }),
    );
}
