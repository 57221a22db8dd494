// `sealcode init`: the seller's data folder, database, master key and issuer key.
// Running it again changes nothing.
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { dataDirOf, dataOption, dbOption } from '../data-dir.js';
import { dbUrlOf } from '../../distributor/db/open.js';
import { redactUrl } from '../../distributor/db/store.js';
import { initSeller, ISSUER_PUB_FILE } from '../../distributor/seller/seller.js';
import { MASTER_KEY_FILE } from '../../distributor/db/master-key.js';

export function register(program: Command, _groups: Groups): void {
  dbOption(dataOption(program.command('init').description("create the seller's data folder: database, master key, issuer key (idempotent)")))
    .option('--json', 'print a JSON object')
    .action(
      action(async (o: { data?: string; db?: string; json?: boolean }) => {
        const dir = dataDirOf(o);
        const dbUrl = dbUrlOf(o.db);
        const r = await initSeller(dir, { dbUrl });
        const masterKey = process.env.SEALCODE_MASTER_KEY ? 'SEALCODE_MASTER_KEY' : path.join(dir, MASTER_KEY_FILE);
        const database = dbUrl ? redactUrl(dbUrl) : path.join(dir, 'sealcode.db');
        const out = { created: r.created, dataDir: dir, database, issuerPublicKey: r.issuerPublicKey, issuerPublicKeyFile: path.join(dir, ISSUER_PUB_FILE), masterKey };
        print(o, out, () =>
          [
            r.created ? `initialised ${dir}` : `${dir} is already initialised: nothing changed`,
            `  database:          ${database}`,
            `  issuer public key: ${r.issuerPublicKey} (${out.issuerPublicKeyFile})`,
            `  master key:        ${masterKey} (keep it safe: it unlocks the issuer and group keys)`,
          ].join('\n'),
        );
      }),
    );
}
