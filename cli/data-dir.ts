// Where the seller's data lives: --data DIR, else SEALCODE_DATA, else ./sealcode-data.
// Every command that reads or writes seller data resolves it here, so they agree.
import path from 'node:path';
import type { Command } from 'commander';

export const DEFAULT_DATA_DIR = 'sealcode-data';

export function dataDirOf(opts: { data?: string }): string {
  return path.resolve(opts.data ?? process.env.SEALCODE_DATA ?? DEFAULT_DATA_DIR);
}

export function dataOption(cmd: Command): Command {
  return cmd.option('--data <dir>', `the seller's data folder (default: $SEALCODE_DATA or ./${DEFAULT_DATA_DIR})`);
}

/** --db URL (or SEALCODE_DB): the seller's database on PostgreSQL instead of the SQLite file in --data. */
export function dbOption(cmd: Command): Command {
  return cmd.option('--db <url>', "the seller's database: a postgres:// URL (default: $SEALCODE_DB, else the SQLite file in the data folder)");
}
