// `sealcode addon stamp`: a dedicated build for one redemption, from the prepared
// template XPI (see thunderbird-addon/stamp.ts; the distributor calls the same function).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { loadBuildProfile } from '../build-profile.js';
import { stampDedicatedXpi } from '../../thunderbird-addon/stamp.js';
import { profileCerts } from '../../card/profile.js';

/** dist/ next to build/ (compiled) or the source tree (tsx). */
export function defaultTemplate(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, 'dist', 'sealcode-dedicated-template.xpi');
    if (fs.existsSync(f)) return f;
    dir = path.dirname(dir);
  }
  return path.resolve('dist', 'sealcode-dedicated-template.xpi');
}

interface StampOpts {
  profile: string;
  out: string;
  template?: string;
  updateUrl?: string;
  addonId?: string;
  json?: boolean;
}

export function register(_program: Command, groups: Groups): void {
  groups.addon
    .command('stamp')
    .description("stamp a redemption's dedicated profile into the add-on template: one XPI for one person")
    .requiredOption('--profile <file>', 'the dedicated profile (JSON, or an XPI to restamp its profile)')
    .requiredOption('--out <file>', 'where to write the stamped XPI')
    .option('--template <file>', 'the dedicated template XPI (default: dist/sealcode-dedicated-template.xpi)')
    .option('--update-url <url>', 'update_url for the stamped add-on (default: $SEALCODE_UPDATE_URL)')
    .option('--addon-id <id>', 'add-on id (default: derived from the build id)')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: StampOpts) => {
        const profile = loadBuildProfile(o.profile);
        const template = o.template ?? defaultTemplate();
        let bytes: Buffer;
        try {
          bytes = fs.readFileSync(template);
        } catch {
          throw new CliError(`cannot read the template ${template} (run npm run build:addon)`, EXIT.usage, 'USAGE');
        }
        const updateUrl = o.updateUrl ?? process.env.SEALCODE_UPDATE_URL;
        const out = stampDedicatedXpi(new Uint8Array(bytes), profile, { updateUrl, addonId: o.addonId });
        fs.writeFileSync(o.out, out);
        const { purchaser, build } = profileCerts(profile);
        print(o, { out: o.out, buildId: profile.buildId, serial: build.serial, purchaser: purchaser.name, bytes: out.length }, () =>
          `stamped ${o.out}: sealcode for ${purchaser.name} (build ${profile.buildId}, code ${build.serial})`,
        );
      }),
    );
}
