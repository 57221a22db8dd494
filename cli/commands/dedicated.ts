// `sealcode dedicated encrypt|decrypt`: what a dedicated add-on build does, from its
// profile. A build seals only for its purchaser (its code or ID), naming the purchaser's
// card as addressee so a gateway can certify it without keys.
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { sealFileTo, openFileTo } from '../sealing.js';
import { reportOpened, summarize } from '../describe.js';
import { loadBuildProfile } from '../build-profile.js';
import { buildParty, buildRecipient } from '../../card/party.js';
import { profileCerts, profileSecrets, type DedicatedProfile } from '../../card/profile.js';
import { completeProfile } from '../../card/blind-profile.js';
import { checkTarget, writeFileAtomic } from '../files.js';
import { fromBase64 } from '../../card/bytes.js';
import { SealError } from '../../card/errors.js';
import { defaultOpenedPath } from './card.js';
import path from 'node:path';

interface DedOpts {
  build: string;
  code?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
  signOnly?: boolean;
}

const dedCommand = (group: Command, name: string, description: string): Command =>
  group
    .command(name)
    .description(description)
    .requiredOption('--build <profile>', 'the dedicated profile (JSON from `admin redeem`, or a dedicated add-on XPI)')
    .option('--code <full_code>', "a blind code's whole text (seller's part + blind part), for a build that still lacks its blind part")
    .option('--force', 'replace an existing output file')
    .option('--json', 'print JSON');

/** The profile, completed in memory with --code when it is a blind code's. */
function buildProfileOf(o: DedOpts): DedicatedProfile {
  const p = loadBuildProfile(o.build);
  return o.code !== undefined && p.blind === 'needed' ? completeProfile(p, o.code) : p;
}

export function register(_program: Command, groups: Groups): void {
  groups.dedicated
    .command('complete')
    .description("give a blind code's build its blind part once: writes the completed profile (the blind part itself is not kept)")
    .requiredOption('--build <profile>', 'the dedicated profile (JSON) or stamped add-on (XPI) from the distributor')
    .requiredOption('--code <full_code>', 'the whole code as the purchaser handed it over: SC-… + blind part')
    .requiredOption('-o, --out <profile>', 'where to write the completed profile (JSON, holds secrets: mode 0600)')
    .option('--force', 'replace an existing output file')
    .option('--json', 'print JSON')
    .action(
      action(async (o: DedOpts & { code: string; out: string }) => {
        checkTarget(o.out, o.force);
        const done = completeProfile(loadBuildProfile(o.build), o.code);
        writeFileAtomic(o.out, JSON.stringify(done, null, 2) + '\n', 0o600);
        const out = { buildId: done.buildId, out: path.resolve(o.out) };
        print(o, out, () => `dedicated build ${out.buildId} now holds its blind part: ${out.out}`);
      }),
    );

  dedCommand(groups.dedicated, 'encrypt', "seal a file for this build's purchaser")
    .argument('<in>', 'the file to seal')
    .option('-o, --out <file>', 'where to write the container (default: IN.seal)')
    .option('--sign-only', 'sign without encrypting (patent Fig. 6)')
    .action(
      action(async (input: string, o: DedOpts) => {
        const output = o.out ?? `${input}.seal`;
        checkTarget(output, o.force);
        const profile = buildProfileOf(o);
        if (Date.now() > profile.expires)
          throw new SealError('EXPIRED', `this dedicated build expired on ${new Date(profile.expires).toISOString().slice(0, 10)}`);
        const { build } = profileCerts(profile);
        const recipients = o.signOnly ? [] : [buildRecipient(build)];
        const meta = await sealFileTo(input, output, {
          sender: buildParty(profileSecrets(profile)),
          recipients,
          addressees: [fromBase64(profile.purchaserCert)],
          signOnly: o.signOnly,
          overwrite: o.force,
        });
        const out = { output: path.resolve(output), name: meta.name, size: meta.size, signOnly: Boolean(o.signOnly), recipients };
        print(o, out, () => `${o.signOnly ? 'signed' : 'sealed'} ${input} → ${output}\n  for: ${build.purchaserName} <${build.purchaserEmail}> (${build.keyKind} ${build.keyLabel})`);
      }),
    );

  dedCommand(groups.dedicated, 'decrypt', 'open a sealed file with this build, after certifying who sealed it')
    .argument('<in>', 'the sealed file')
    .option('-o, --out <file>', "where to write the content (default: IN without .seal, else the sealed file's name)")
    .action(
      action(async (input: string, o: DedOpts) => {
        if (o.out) checkTarget(o.out, o.force);
        const profile = buildProfileOf(o);
        const r = await openFileTo(
          input,
          (meta) => o.out ?? defaultOpenedPath(input, meta),
          { receiver: buildParty(profileSecrets(profile)), issuerPub: fromBase64(profile.issuerPublicKey), overwrite: o.force },
        );
        reportOpened(o, r.path, r.meta, summarize(r.header, r.verdict));
      }),
    );
}
