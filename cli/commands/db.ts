// `sealcode db copy`: move a seller's SQLite database (in its data folder) into an empty
// PostgreSQL database, for several `serve` processes on several hosts.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { dbUrlOf } from '../../distributor/db/open.js';
import { openPostgres } from '../../distributor/db/postgres.js';
import { DB_FILE, openSqlite } from '../../distributor/db/sqlite.js';
import { redactUrl } from '../../distributor/db/store.js';
import { copyDatabase, tableDigests } from '../../distributor/db/copy.js';

interface CopyOpts {
  fromData: string;
  to: string;
  json?: boolean;
}

export function register(program: Command, _groups: Groups): void {
  const db = program.command('db').description("the seller's database: move it from SQLite to PostgreSQL");
  db.command('copy')
    .description('copy the SQLite database of a data folder into an empty PostgreSQL database, then check every table (row counts and hashes)')
    .requiredOption('--from-data <dir>', 'the data folder holding sealcode.db (stop its `serve` first)')
    .requiredOption('--to <url>', 'the empty PostgreSQL database, postgres://USER[:PASSWORD]@HOST[:PORT]/DB')
    .option('--json', 'print a JSON object')
    .action(
      action(async (o: CopyOpts) => {
        const dir = path.resolve(o.fromData);
        if (!existsSync(path.join(dir, DB_FILE))) throw new CliError(`no sealcode database in ${dir} (${DB_FILE} is missing)`, EXIT.usage, 'USAGE');
        const url = dbUrlOf(o.to)!;
        const from = openSqlite(dir);
        const to = openPostgres(url);
        try {
          const copied = await copyDatabase(from, to, (table, done, total) => {
            if (done === 0 || done === total) process.stderr.write(`${table}: ${done}/${total} rows\n`);
          });
          // Read back once more after the commit, as any other process will see it.
          const after = await tableDigests(to);
          if (JSON.stringify(after) !== JSON.stringify(copied)) throw new CliError('the committed copy reads back differently from the source', EXIT.malformed, 'TAMPERED');
          const out = { from: path.join(dir, DB_FILE), to: redactUrl(url), tables: copied, rows: copied.reduce((n, t) => n + t.rows, 0) };
          print(o, out, () =>
            [
              `copied ${out.rows} rows from ${out.from} to ${out.to}; every table checked (row count and SHA-256 of its rows):`,
              ...copied.map((t) => `  ${t.table.padEnd(20)} ${String(t.rows).padStart(8)}  ${t.sha256.slice(0, 16)}`),
              'Run every `sealcode serve --db URL` with the master key of this data folder (its master.key file or SEALCODE_MASTER_KEY).',
            ].join('\n'),
          );
        } finally {
          await Promise.all([from.close(), to.close()]);
        }
      }),
    );
}
