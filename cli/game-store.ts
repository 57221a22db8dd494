// Where a player's games live: one JSON file per game id in a folder beside the card
// file or dedicated profile (`alice.card.games/g_….json`), so a game resumes after a
// restart. The files hold the moves in the clear (like an opened attachment), so the
// folder is 0700 and the files 0600. One `game move` at a time per game: a lock file.
import fs from 'node:fs';
import path from 'node:path';
import { parseState, type GameState } from '../game/chain.js';
import { CliError, EXIT } from './errors.js';
import { writeFileAtomic } from './files.js';
import { withLockFile } from './lock-file.js';

export class GameStore {
  constructor(readonly dir: string) {}

  static beside(file: string): GameStore {
    return new GameStore(`${path.resolve(file)}.games`);
  }

  private file(gameId: string): string {
    return path.join(this.dir, `${gameId}.json`);
  }

  load(gameId: string): GameState | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file(gameId), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return parseState(JSON.parse(text));
    } catch (e) {
      throw new CliError(`the game record ${this.file(gameId)} is damaged: ${(e as Error).message}`, EXIT.malformed, 'MALFORMED');
    }
  }

  save(s: GameState): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file(s.gameId), JSON.stringify(s, null, 1) + '\n', 0o600);
  }

  /** The game and the index of the move whose sealed file has this hash, if we have seen it. */
  findMove(hash: string): { state: GameState; index: number } | null {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((f) => /^g_[0-9a-f]{24}\.json$/.test(f));
    } catch {
      return null;
    }
    for (const n of names) {
      const state = this.load(n.slice(0, -5));
      const index = state?.moves.findIndex((m) => m.hash === hash) ?? -1;
      if (state && index >= 0) return { state, index };
    }
    return null;
  }

  /** Runs `fn` holding the game's lock; a lock left by a process that died is taken over. */
  async locked<T>(gameId: string, fn: () => Promise<T>): Promise<T> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return withLockFile(path.join(this.dir, `${gameId}.lock`), fn, {
      waitMs: 0,
      busy: () => new CliError(`game ${gameId} is being played by another sealcode process`, EXIT.other, 'BUSY'),
    });
  }
}
