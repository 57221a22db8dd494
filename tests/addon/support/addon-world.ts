// The cast of the add-on end-to-end tests: one issuer, Alice's card, dedicated builds
// from her codes (a good one, a different build of the same code, an expired one), the
// test XPIs with a driver plan, and helpers to seal with the CLI and to write mail.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import {
  DAY_MS,
  cardParty,
  cardSecretsOf,
  makeBuild,
  makeCard,
  newGroupKey,
  newSigningKey,
  sealCardFile,
  seal,
  toBase64,
  type DedicatedProfile,
  type NewCard,
  type Party,
  type RecipientSpec,
} from '../../../card/index.js';
import { nodePrimitives } from '../../../card/node.js';
import { buildXpi, type BuildOptions } from '../../../thunderbird-addon/build.js';
import { stampDedicatedXpi } from '../../../thunderbird-addon/stamp.js';
import { SEALED_TYPE } from '../../../thunderbird-addon/manifest.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const PASSPHRASE = 'correct horse battery staple';

export interface AddonWorld {
  issuer: { secretKey: Uint8Array; publicKey: Uint8Array };
  alice: NewCard;
  cardFile: string;
  /** A second purchaser of Alice's group; Alice and Bob also share a pair key. */
  bob: NewCard;
  bobCardFile: string;
  pairId: string;
  serial: string;
  dana: DedicatedProfile; // Alice's code 0, redeemed by Dana
  danaCopy: DedicatedProfile; // another build of the same code: an illegal copy for Dana
  erin: DedicatedProfile; // Alice's code 1, already expired
}

export async function makeAddonWorld(dir: string, o: { distributorUrl?: string } = {}): Promise<AddonWorld> {
  const issuer = newSigningKey();
  const group = { id: 'grp_e2e', key: newGroupKey() };
  const alice = makeCard(issuer.secretKey, issuer.publicKey, {
    purchaser: { id: 'p_alice', name: 'Alice Example', email: 'alice@example.test' },
    groupId: group.id,
    groupKey: group.key,
    codes: 3,
  });
  alice.data.distributorUrl = o.distributorUrl ?? 'https://distributor.example.test/redeem';
  const bob = makeCard(issuer.secretKey, issuer.publicKey, {
    purchaser: { id: 'p_bob', name: 'Bob Builder', email: 'bob@example.test' },
    groupId: group.id,
    groupKey: group.key,
  });
  // As `card import-pair` leaves both cards after the seller made them a pair key.
  const pairId = 'pair_e2e';
  const pairKey = toBase64(newGroupKey());
  alice.data.pairs.push({ pairId, peerCardId: bob.data.cardId, key: pairKey });
  bob.data.pairs.push({ pairId, peerCardId: alice.data.cardId, key: pairKey });
  const cardFile = path.join(dir, 'alice.card');
  const bobCardFile = path.join(dir, 'bob.card');
  // A lighter scrypt than the default keeps each unlock in the tests short.
  fs.writeFileSync(cardFile, await sealCardFile(alice.data, PASSPHRASE, 1 << 14));
  fs.writeFileSync(bobCardFile, await sealCardFile(bob.data, PASSPHRASE, 1 << 14));
  const build = (serial: string, email: string, extra: Partial<Parameters<typeof makeBuild>[2]> = {}): DedicatedProfile =>
    makeBuild(issuer.secretKey, issuer.publicKey, {
      serial,
      purchaserCert: alice.cert,
      purchaserCertBytes: alice.certBytes,
      groupKey: group.key,
      redeemerEmail: email,
      ...extra,
    });
  const serial = alice.data.codes[0]!.serial;
  const now = Date.now();
  return {
    issuer,
    alice,
    cardFile,
    bob,
    bobCardFile,
    pairId,
    serial,
    dana: build(serial, 'dana@example.test'),
    danaCopy: build(serial, 'dana@example.test'),
    erin: build(alice.data.codes[1]!.serial, 'erin@example.test', { now: now - 30 * DAY_MS, expires: now - DAY_MS }),
  };
}

export const aliceParty = (w: AddonWorld): Party => cardParty(cardSecretsOf(w.alice.data));

export interface PlanStep {
  op: string;
  [k: string]: unknown;
}

/**
 * The driver's plan. Steps for several launches of the same profile (`PlanStep[][]`): the
 * build runs the next list at each start, so a relaunch needs no new XPI. Replacing the
 * XPI in the profile makes Thunderbird update the add-on during its start-up, which now and
 * then hung there under load before the add-on ran at all.
 */
const planFile = (reportUrl: string, steps: PlanStep[] | PlanStep[][], extra: Record<string, Uint8Array> = {}): Record<string, Uint8Array> => ({
  ...extra,
  'test-plan.json': new TextEncoder().encode(JSON.stringify(Array.isArray(steps[0]) ? { reportUrl, runs: steps } : { reportUrl, steps })),
});

/** `build`: test-build options (e.g. a status refresh every few seconds, to watch the timer). */
export type TestBuild = Pick<BuildOptions, 'statusRefreshMinutes'>;

export async function purchaserTestXpi(file: string, reportUrl: string, steps: PlanStep[], build: TestBuild = {}): Promise<string> {
  fs.writeFileSync(file, await buildXpi({ ...build, flavour: 'purchaser', test: true, extra: planFile(reportUrl, steps) }));
  return file;
}

export async function dedicatedTestXpi(
  file: string,
  profile: DedicatedProfile,
  reportUrl: string,
  steps: PlanStep[] | PlanStep[][],
  extra: Record<string, Uint8Array> = {},
  build: TestBuild = {},
): Promise<string> {
  const template = await buildXpi({ ...build, flavour: 'dedicated', test: true, extra: planFile(reportUrl, steps, extra) });
  fs.writeFileSync(file, stampDedicatedXpi(template, profile));
  return file;
}

/** Seals in-process (Node primitives): the cases where no CLI is the point. */
export async function sealWith(sender: Party, recipients: RecipientSpec[], data: Uint8Array, name: string, addressees: Uint8Array[] = []): Promise<Buffer> {
  const parts: Buffer[] = [];
  async function* src(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
  }
  for await (const c of seal(src(), {
    sender,
    recipients,
    addressees,
    meta: { name, type: 'application/octet-stream', size: data.length },
    primitives: nodePrimitives,
  }))
    parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'sealcode.js'), ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Does the built CLI have this command? (The CLI engineer's commands land in parallel.) */
export async function cliHas(...words: string[]): Promise<boolean> {
  const r = await cli([...words, '--help']);
  return r.code === 0;
}

export async function mail(o: {
  from: string;
  to: string;
  subject: string;
  attachments: { filename: string; content: Buffer }[];
}): Promise<Buffer> {
  return new MailComposer({
    from: o.from,
    to: o.to,
    subject: o.subject,
    text: 'sealed attachments inside',
    headers: { 'X-Sealcode': 'v1' },
    attachments: o.attachments.map((a) => ({ ...a, contentType: SEALED_TYPE })),
  })
    .compile()
    .build();
}
