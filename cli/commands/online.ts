// The purchaser's and the build holder's online requests to the distributor: charging
// codes, pair keys, pay-back statements, copy rights. Each proves the card (or build)
// by signing a fresh challenge; what comes back is sealed to the card's own key.
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { addCodes, loadCard, openForCard, type OpenedCard } from '../card-file.js';
import { readInput, writeFileAtomic, checkTarget } from '../files.js';
import { loadBuildProfile } from '../build-profile.js';
import { fromBase64, fromUtf8 } from '../../card/bytes.js';
import { malformed } from '../../card/errors.js';
import { CODE_BUNDLE_CONTEXT, type CodeBundle } from '../../distributor/seller/cards.js';
import { signedRequest } from '../../distributor/client.js';
import {
  ChargeResponse,
  CopyRightResponse,
  PAIR_KEY_CONTEXT,
  PairResponse,
  STATEMENT_CONTEXT,
  StatementResponse,
  type PairKeyFile,
  type PairKeyPayload,
  type Statement,
} from '../../distributor/protocol.js';

interface Opts extends PassphraseOptions {
  card: string;
  server: string;
  json?: boolean;
}

const online = (group: Command, name: string, description: string): Command =>
  passphraseOption(group.command(name).description(description).requiredOption('--card <card_file>', 'the sealed card file'))
    .requiredOption('--server <url>', 'the distributor, e.g. http://127.0.0.1:8080')
    .option('--json', 'print JSON');

function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(fromUtf8(bytes)) as T;
  } catch {
    throw malformed(`the ${what} is not understood`);
  }
}

async function openPairPayload(card: OpenedCard, sealed: string, pairId: string): Promise<PairKeyPayload> {
  const p = parseJson<PairKeyPayload>(await openForCard(card, PAIR_KEY_CONTEXT, fromBase64(sealed)), 'pair key');
  if (p?.sealcode !== 'pair-key' || p.v !== 1 || p.pairId !== pairId || fromBase64(p.key).length !== 32) throw malformed('the pair key is not understood');
  return p;
}

export function register(_program: Command, groups: Groups): void {
  online(groups.card, 'charge', 'buy more codes online: the card signs a fresh challenge, the codes come back sealed to it')
    .requiredOption('--count <n>', 'how many codes')
    .action(
      action(async (o: Opts & { count: string }) => {
        const count = Number(o.count);
        if (!Number.isInteger(count) || count < 1) throw new CliError('--count must be a positive whole number', EXIT.usage, 'USAGE');
        const card = await loadCard(o.card, o);
        const r = await signedRequest(o.server, 'charge', card.data.cardId, card.keys.sign, { count }, ChargeResponse);
        const bundle = parseJson<CodeBundle>(await openForCard(card, CODE_BUNDLE_CONTEXT, fromBase64(r.bundle)), 'code bundle');
        if (bundle?.sealcode !== 'code-bundle' || bundle.cardId !== card.data.cardId || !Array.isArray(bundle.codes)) throw malformed('the code bundle is not understood');
        const added = await addCodes(card, bundle.codes);
        const out = { cardId: card.data.cardId, added, paymentId: r.paymentId };
        print(o, out, () => `card ${out.cardId}: ${added.length} new codes (payment ${out.paymentId})\n${out.added.map((s) => `  ${s}`).join('\n')}`);
      }),
    );

  online(groups.card, 'pair', "get a pair key with another purchaser's card, wrapped to each card's individual key")
    .requiredOption('--with <card_id>', 'the other card')
    .option('-o, --out <file>', "where to write the other card's copy (default: pair-PAIRID-for-CARDID.json)")
    .action(
      action(async (o: Opts & { with: string; out?: string }) => {
        const card = await loadCard(o.card, o);
        const r = await signedRequest(o.server, 'pair', card.data.cardId, card.keys.sign, { withCardId: o.with }, PairResponse);
        if (r.cardA !== card.data.cardId || r.cardB !== o.with) throw malformed('the distributor answered for other cards');
        const mine = await openPairPayload(card, r.forA, r.pairId);
        const out = o.out ?? `pair-${r.pairId}-for-${r.cardB}.json`;
        checkTarget(out);
        await card.update((d) => {
          d.pairs.push({ pairId: r.pairId, peerCardId: r.cardB, key: mine.key });
          return true;
        });
        const file: PairKeyFile = { sealcode: 'pair-key-file', v: 1, pairId: r.pairId, forCard: r.cardB, fromCard: r.cardA, sealed: r.forB };
        writeFileAtomic(out, JSON.stringify(file, null, 1) + '\n', 0o644);
        const res = { pairId: r.pairId, peerCardId: r.cardB, forPeer: path.resolve(out) };
        print(o, res, () => `pair key ${res.pairId} with card ${res.peerCardId} is on this card.\nGive ${out} to its holder: \`sealcode card import-pair --card THEIR_CARD ${out}\` (only their card opens it).`);
      }),
    );

  passphraseOption(groups.card.command('import-pair').description("take in a pair key another purchaser's card obtained for this card"))
    .requiredOption('--card <card_file>', 'the sealed card file')
    .argument('<pair_file>', 'the file from `sealcode card pair`')
    .option('--json', 'print JSON')
    .action(
      action(async (file: string, o: PassphraseOptions & { card: string; json?: boolean }) => {
        const f = parseJson<PairKeyFile>(new Uint8Array(readInput(file, 'the pair key file')), 'pair key file');
        if (f?.sealcode !== 'pair-key-file' || f.v !== 1 || typeof f.sealed !== 'string' || typeof f.pairId !== 'string') throw malformed('not a sealcode pair key file');
        const card = await loadCard(o.card, o);
        if (f.forCard !== card.data.cardId) throw new CliError(`this pair key is for card ${f.forCard}, not ${card.data.cardId}`, EXIT.refused, 'REFUSED');
        const p = await openPairPayload(card, f.sealed, f.pairId);
        if (p.cardB !== card.data.cardId) throw new CliError('this pair key was not made for this card', EXIT.refused, 'REFUSED');
        const imported = await card.update((d) => {
          if (d.pairs.some((x) => x.pairId === p.pairId)) return false;
          d.pairs.push({ pairId: p.pairId, peerCardId: p.cardA, key: p.key });
          return true;
        });
        const known = !imported;
        const res = { pairId: p.pairId, peerCardId: p.cardA, imported: !known };
        print(o, res, () => (known ? `pair key ${p.pairId} was already on this card` : `pair key ${p.pairId} with card ${p.cardA} is on this card: seal with --to pair:${p.pairId}`));
      }),
    );

  online(groups.card, 'statement', 'fetch the pay-back statement, sealed to this card').action(
    action(async (o: Opts) => {
      const card = await loadCard(o.card, o);
      const r = await signedRequest(o.server, 'statement', card.data.cardId, card.keys.sign, {}, StatementResponse);
      const st = parseJson<Statement>(await openForCard(card, STATEMENT_CONTEXT, fromBase64(r.sealed)), 'statement');
      if (st?.sealcode !== 'statement' || st.cardId !== card.data.cardId || !Array.isArray(st.entries)) throw malformed('the statement is not understood');
      const money = (c: number) => `${(c / 100).toFixed(2)} ${st.currency}`;
      print(o, st, () =>
        [
          `pay-back statement for card ${st.cardId} (${new Date(st.issuedAt).toISOString()})`,
          ...st.entries.map((e) => `  ${new Date(e.at).toISOString().slice(0, 10)}  ${e.rule.padEnd(13)} ${money(e.amountCents).padStart(12)}  ${String(e.points).padStart(5)} pts  (${e.source})`),
          `  total: ${money(st.totalCents)}, ${st.totalPoints} points`,
        ].join('\n'),
      );
    }),
  );

  groups.dedicated
    .command('copy-right')
    .description('ask for a copy code: a third person redeems it for a build marked as a copy of this one')
    .requiredOption('--build <profile_or_xpi>', 'the dedicated profile (JSON) or the stamped add-on (XPI)')
    .requiredOption('--copies <k>', 'how many copies the code allows')
    .requiredOption('--server <url>', 'the distributor')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { build: string; copies: string; server: string; json?: boolean }) => {
        const copies = Number(o.copies);
        if (!Number.isInteger(copies) || copies < 1) throw new CliError('--copies must be a positive whole number', EXIT.usage, 'USAGE');
        const profile = loadBuildProfile(o.build);
        const r = await signedRequest(o.server, 'copy-right', profile.buildId, fromBase64(profile.buildSecret), { copies }, CopyRightResponse);
        print(o, r, () => `copy code for ${r.copies} cop${r.copies === 1 ? 'y' : 'ies'} of build ${r.parentBuildId} (until ${new Date(r.expires).toISOString()}):\n  ${r.code}\nGive it to the third person; they redeem it on the distributor's page.`);
      }),
    );
}

