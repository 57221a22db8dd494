// `sealcode card sync`: the card file's code states refreshed from the distributor (a
// code redeemed there becomes in_use / already_used here; a revoked one, revoked).
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { loadCard } from '../card-file.js';
import { syncCodeStates } from '../code-states.js';

interface Opts extends PassphraseOptions {
  card: string;
  distributor?: string;
  json?: boolean;
}

export function register(_program: Command, groups: Groups): void {
  passphraseOption(
    groups.card
      .command('sync')
      .description("refresh the card's code states from the distributor (the card signs a fresh challenge)")
      .requiredOption('--card <card_file>', 'the sealed card file'),
  )
    .option('--distributor <url>', 'the distributor (default: the one the card names)')
    .option('--json', 'print JSON')
    .action(
      action(async (o: Opts) => {
        const card = await loadCard(o.card, o);
        try {
          const r = await syncCodeStates(card, o.distributor);
          print(o, r, () =>
            [
              `card ${r.cardId}: ${r.changed.length ? `${r.changed.length} code state(s) refreshed` : 'code states already up to date'} from ${r.distributor}`,
              ...r.changed.map((c) => `  ${c.serial}  ${c.from} -> ${c.to}`),
            ].join('\n'),
          );
        } finally {
          card.close();
        }
      }),
    );
}
