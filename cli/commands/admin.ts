// `sealcode admin ...`: the seller's side, on the data folder. issue-card registers a
// purchaser and card and writes the sealed card file; sell-codes records a sale and
// writes the new codes sealed to the card; redeem is the off-line redemption.
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { dataDirOf, dataOption, dbOption } from '../data-dir.js';
import { dbUrlOf } from '../../distributor/db/open.js';
import { endAllSessions } from '../../distributor/server/security.js';
import { getPassphrase, passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { checkTarget, writeFileAtomic } from '../files.js';
import { validId } from '../recipients.js';
import { sealCardFile } from '../../card/cardfile.js';
import { fromBase64 } from '../../card/bytes.js';
import { newId } from '../../card/issuer.js';
import { publicCardData, sealTokenCardFile } from '../../card/tokencard.js';
import { CliError, EXIT } from '../errors.js';
import { getPin } from '../pin.js';
import { Token } from '../token/pkcs11.js';
import { fileMac, generateCardKeys, removeCard, storeCardSecrets } from '../token/card-token.js';
import { openSeller, type Seller } from '../../distributor/seller/seller.js';
import { issueCard, sellCodes, type IssueCardInput, type PaymentInput } from '../../distributor/seller/cards.js';
import { redeemOffline, type Grant } from '../../distributor/seller/redemption.js';
import { redeemOfflineAsId } from '../../distributor/seller/id-mode.js';

export function wholeNumber(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    // commander turns InvalidArgumentError into a usage error (exit 2).
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(v);
    if (n < min) throw new InvalidArgumentError(`${name} must be at least ${min}`);
    return n;
  };
}

export async function withSeller<T>(opts: { data?: string; db?: string }, fn: (s: Seller) => Promise<T> | T): Promise<T> {
  const seller = await openSeller(dataDirOf(opts), { dbUrl: dbUrlOf(opts.db) });
  try {
    return await fn(seller);
  } finally {
    await seller.close();
  }
}

/** The options every admin command takes to find the seller's data. */
const sellerData = (c: Command): Command => dbOption(dataOption(c));

function payment(o: { amount?: number; currency?: string; reference?: string }): PaymentInput | undefined {
  if (o.amount === undefined && !o.reference) return undefined;
  return { amountCents: o.amount ?? 0, currency: o.currency, reference: o.reference };
}

const paymentOptions = (c: Command): Command =>
  c
    .option('--amount <cents>', 'amount paid, in cents', wholeNumber('--amount'))
    .option('--currency <code>', 'currency of the payment', 'EUR')
    .option('--reference <text>', 'payment reference');

interface IssueOpts extends PassphraseOptions {
  name: string;
  email: string;
  group: string;
  codes: number;
  maxCodes?: number;
  validDays?: number;
  purchaserId?: string;
  moduleKind?: string;
  tokenModule?: string;
  tokenLabel?: string;
  blind?: boolean;
  out: string;
  force?: boolean;
  data?: string;
  db?: string;
  json?: boolean;
  amount?: number;
  currency?: string;
  reference?: string;
}

interface SellOpts {
  card: string;
  count: number;
  out: string;
  force?: boolean;
  data?: string;
  db?: string;
  json?: boolean;
  amount?: number;
  currency?: string;
  reference?: string;
}

interface RedeemOpts {
  email: string;
  out: string;
  id?: string;
  force?: boolean;
  data?: string;
  db?: string;
  json?: boolean;
}

/** Writes a profile (it holds the build's secret key: mode 0600). */
export function writeProfile(file: string, g: Grant): void {
  writeFileAtomic(file, JSON.stringify(g.profile, null, 2) + '\n', 0o600);
}

export function register(_program: Command, groups: Groups): void {
  const issue = groups.admin
    .command('issue-card')
    .description('register a purchaser and a card, and write the sealed card file holding its codes')
    .requiredOption('--name <name>', "the purchaser's name")
    .requiredOption('--email <email>', "the purchaser's email")
    .option('--group <new|GROUP_ID>', 'a new group key, or join the group of an existing card', 'new')
    .option('--codes <count>', 'codes to put on the card', wholeNumber('--codes'), 10)
    .option('--max-codes <count>', 'the most codes this card may ever hold', wholeNumber('--max-codes', 1))
    .option('--valid-days <days>', 'how long the card is valid', wholeNumber('--valid-days', 1))
    .option('--purchaser-id <id>', 'an existing purchaser to issue another card to')
    .option('--module-kind <kind>', 'the hardware-module kind recorded for the card', 'keyfile')
    .option('--token-module <lib>', 'issue onto a PKCS#11 token: the module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so')
    .option('--token-label <label>', "the token's label (with --token-module); its PIN from --pin-file, $SEALCODE_PIN or a prompt")
    .option('--blind', "a new group whose codes are distributor-blind: each card then makes or imports the group's blind secret (`card blind`)")
    .requiredOption('--out <card_file>', 'where to write the sealed card file')
    .option('--force', 'replace an existing card file');
  passphraseOption(sellerData(paymentOptions(issue)))
    .option('--json', 'print a JSON object')
    .action(
      action(async (o: IssueOpts) => {
        checkTarget(o.out, o.force);
        if (Boolean(o.tokenModule) !== Boolean(o.tokenLabel)) throw new CliError('--token-module and --token-label go together', EXIT.usage, 'USAGE');
        if (o.tokenModule) {
          const r = await issueOntoToken(o, { module: path.resolve(o.tokenModule), label: o.tokenLabel! });
          return reportIssued(o, r.cardId, r.groupId, r.purchaserId, r.codes);
        }
        const passphrase = await getPassphrase(o, `the new card ${o.out}`, true);
        const issued = await withSeller(o, (s) => issueCard(s, issueInput(o)));
        writeFileAtomic(o.out, await sealCardFile(issued.data, passphrase), 0o600);
        reportIssued(o, issued.cardId, issued.groupId, issued.purchaserId, issued.data.codes.length);
      }),
    );

  function issueInput(o: IssueOpts): IssueCardInput {
    return {
      name: o.name,
      email: o.email,
      group: o.group,
      codes: o.codes,
      maxCodes: o.maxCodes,
      validDays: o.validDays,
      purchaserId: o.purchaserId,
      moduleKind: o.moduleKind,
      payment: payment(o),
      blind: o.blind,
    };
  }

  function reportIssued(o: IssueOpts, cardId: string, groupId: string, purchaserId: string, codes: number): void {
    const out = { cardId, groupId, purchaserId, codes, out: path.resolve(o.out), ...(o.tokenLabel ? { token: o.tokenLabel } : {}) };
    print(o, out, () =>
      [
        `issued card ${out.cardId} to ${o.name} <${o.email}>`,
        `  group:  ${out.groupId}`,
        `  codes:  ${out.codes}`,
        ...(o.tokenLabel ? [`  token:  ${o.tokenLabel} (the card's secrets are in it; the file holds none)`] : []),
        `  file:   ${out.out}`,
      ].join('\n'),
    );
  }

  /**
   * The card's key pairs are made in the token, Ka is imported into it, and the card file
   * is sealed under a key only the token makes. Anything left half-done is removed again.
   */
  async function issueOntoToken(o: IssueOpts, address: { module: string; label: string }) {
    const pin = await getPin(o, `the token "${address.label}"`);
    const token = Token.open(address, pin);
    const cardId = newId('card');
    try {
      const publicKeys = generateCardKeys(token, cardId);
      const issued = await withSeller(o, (s) => issueCard(s, { ...issueInput(o), moduleKind: 'pkcs11', cardId, publicKeys }));
      storeCardSecrets(token, cardId, fromBase64(issued.data.groupKey));
      const ref = { ...address, cardId };
      writeFileAtomic(o.out, await sealTokenCardFile(publicCardData(issued.data), ref, fileMac(token, cardId)), 0o600);
      return { cardId, groupId: issued.groupId, purchaserId: issued.purchaserId, codes: issued.data.codes.length };
    } catch (e) {
      removeCard(token, cardId);
      throw e;
    } finally {
      token.close();
    }
  }

  const sell = groups.admin
    .command('sell-codes')
    .description("record a sale of codes for a card and write them, sealed to the card's individual key")
    .requiredOption('--card <card_id>', 'the card buying the codes')
    .requiredOption('--count <n>', 'how many codes', wholeNumber('--count', 1))
    .requiredOption('--out <bundle>', 'where to write the sealed code bundle')
    .option('--force', 'replace an existing file');
  sellerData(paymentOptions(sell))
    .option('--json', 'print a JSON object')
    .action(
      action(async (o: SellOpts) => {
        checkTarget(o.out, o.force);
        const sold = await withSeller(o, (s) => sellCodes(s, { cardId: o.card, count: o.count, payment: payment(o) }));
        writeFileAtomic(o.out, sold.bundle);
        const out = { cardId: o.card, serials: sold.serials, paymentId: sold.paymentId, out: path.resolve(o.out) };
        print(o, out, () => `sold ${sold.serials.length} codes to card ${o.card}\n  bundle: ${out.out}\n  import: sealcode card import-codes --card CARD_FILE ${o.out}`);
      }),
    );

  sellerData(
    groups.admin
      .command('redeem')
      .description('redeem a code off-line and write the dedicated profile for its holder')
      .argument('<code>', 'the code as handed over (case, spaces and dashes do not matter)')
      .requiredOption('--email <email>', "the redeemer's email")
      .requiredOption('--out <profile>', 'where to write the dedicated profile (JSON, holds secrets: mode 0600)')
      .option('--id <id>', "ID mode: the build's key is made from this ID, so any card of the group can seal for it")
      .option('--force', 'replace an existing file'),
  )
    .option('--json', 'print a JSON object')
    .action(
      action(async (code: string, o: RedeemOpts) => {
        checkTarget(o.out, o.force);
        const id = o.id === undefined ? undefined : validId(o.id);
        const g = await withSeller(o, (s) => (id ? redeemOfflineAsId(s, { code, email: o.email, id }) : redeemOffline(s, { code, email: o.email })));
        writeProfile(o.out, g);
        const out = {
          buildId: g.buildId,
          serial: g.serial,
          redemptionId: g.redemptionId,
          expires: new Date(g.profile.expires).toISOString(),
          ...(id ? { id } : {}),
          out: path.resolve(o.out),
        };
        print(o, out, () =>
          [
            `redeemed code ${g.serial}: dedicated build ${g.buildId}`,
            ...(id ? [`  ID:      ${id}`] : []),
            `  expires: ${out.expires}`,
            `  profile: ${out.out}`,
          ].join('\n'),
        );
      }),
    );

  sellerData(
    groups.admin
      .command('end-sessions')
      .description('log every browser out of the seller console, on every process sharing the database'),
  )
    .option('--json', 'print a JSON object')
    .action(
      action(async (o: { data?: string; db?: string; json?: boolean }) => {
        const ended = await withSeller(o, (s) => endAllSessions(s.db));
        print(o, { ended }, () => `ended ${ended} console session${ended === 1 ? '' : 's'}`);
      }),
    );
}
