// `sealcode addon check FILE.xpi`: a stamped dedicated build against the template
// (cli/addon-check.ts). Exit 0 when it differs only by its stamp, 3 otherwise.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { checkStampedXpi } from '../addon-check.js';
import { defaultTemplate } from './addon.js';

const read = (f: string, what: string): Uint8Array => {
  try {
    return new Uint8Array(fs.readFileSync(f));
  } catch {
    throw new CliError(`cannot read ${what} ${f}`, EXIT.usage, 'USAGE');
  }
};

export function register(_program: Command, groups: Groups): void {
  groups.addon
    .command('check')
    .description('check that a stamped dedicated build differs from the published template only in its profile (name, id and update URL in the manifest)')
    .argument('<xpi>', 'the stamped dedicated add-on')
    .option('--template <file>', 'the template to compare with, e.g. one you built from source (default: dist/sealcode-dedicated-template.xpi)')
    .option('--json', 'print JSON')
    .action(
      action(async (xpi: string, o: { template?: string; json?: boolean }) => {
        const template = o.template ?? defaultTemplate();
        const r = checkStampedXpi(read(xpi, 'the add-on'), read(template, 'the template'));
        print(o, { ...r, template }, () =>
          r.ok
            ? `${xpi}: the same as the template ${template} except its profile (${r.same} files compared)`
            : `${xpi} differs from the template ${template} beyond its profile:\n${r.differences.map((d) => `  ${d}`).join('\n')}`,
        );
        if (!r.ok) process.exitCode = EXIT.refused;
      }),
    );
}
