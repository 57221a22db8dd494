// `sealcode card ...`: the purchaser's side, on a sealed card file: what it holds, its
// codes, importing bought codes, and sealing and opening files with it.
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print, termSafe } from '../output.js';
import { replaceControlChars } from '../../distributor/control-chars.js';
import { CliError, EXIT } from '../errors.js';
import { passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { addCodes, loadCard, openForCard } from '../card-file.js';
import { checkTarget, readInput } from '../files.js';
import type { CardData } from '../../card/cardfile.js';
import { decodeCert } from '../../card/certs.js';
import { fromBase64, fromUtf8 } from '../../card/bytes.js';
import { malformed } from '../../card/errors.js';
import type { FileMeta } from '../../card/container/meta.js';
import type { CodeBundle } from '../../distributor/seller/cards.js';

// Each action loads what only it needs (the blind codes' HMACs, the container and its
// progress bar, the verdict texts) when it runs, so that `card info` pays for none of it.

interface CardOpts extends PassphraseOptions {
  card: string;
  json?: boolean;
}

const cardCommand = (group: Command, name: string, description: string): Command =>
  passphraseOption(group.command(name).description(description).requiredOption('--card <card_file>', 'the sealed card file')).option(
    '--json',
    'print JSON',
  );

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function cardInfo(d: CardData) {
  const cert = decodeCert(fromBase64(d.cert));
  return {
    cardId: d.cardId,
    purchaser: d.purchaser,
    groupId: d.groupId,
    moduleKind: d.moduleKind,
    validFrom: new Date(cert.notBefore).toISOString(),
    validUntil: new Date(cert.notAfter).toISOString(),
    codes: { total: d.codes.length, unused: d.codes.filter((c) => c.state === 'unused').length },
    pairs: d.pairs.map((p) => ({ pairId: p.pairId, peerCardId: p.peerCardId })),
    ...(d.blind ? { blindCodes: d.blindSecret || d.blindInToken ? 'ready' : 'no blind secret yet' } : {}),
    issuerPublicKey: d.issuerPublicKey,
    ...(d.distributorUrl ? { distributorUrl: d.distributorUrl } : {}),
  };
}

/** Default output of a decrypt: IN without `.seal`, else the sealed file's own name beside IN. */
export function defaultOpenedPath(input: string, meta: FileMeta): string {
  return input.endsWith('.seal') ? input.slice(0, -'.seal'.length) : path.join(path.dirname(input), safeFileName(meta.name));
}

/** A sealed file's own name, with control and bidi characters (ESC, newline, U+202E...) made '_'. */
export const safeFileName = (name: string): string => replaceControlChars(name, () => '_');

export function register(_program: Command, groups: Groups): void {
  cardCommand(groups.card, 'info', 'show what a card file holds (never its secrets)').action(
    action(async (o: CardOpts) => {
      const { data } = await loadCard(o.card, o);
      const i = cardInfo(data);
      print(o, i, () =>
        [
          `card ${i.cardId}`,
          `  purchaser: ${termSafe(i.purchaser.name)} <${termSafe(i.purchaser.email)}> (${i.purchaser.id})`,
          `  group:     ${i.groupId}`,
          `  module:    ${i.moduleKind}`,
          `  valid:     ${i.validFrom} to ${i.validUntil}`,
          `  codes:     ${i.codes.unused} unused of ${i.codes.total}`,
          `  pair keys: ${i.pairs.length ? i.pairs.map((p) => `${p.pairId} (with ${p.peerCardId})`).join(', ') : 'none'}`,
          ...(i.blindCodes ? [`  blind codes: ${i.blindCodes}`] : []),
        ].join('\n'),
      );
    }),
  );

  cardCommand(groups.card, 'codes', "list the codes to hand over, with serial and state (a blind group's with their blind parts)").action(
    action(async (o: CardOpts) => {
      const [card, { handOverText }] = await Promise.all([loadCard(o.card, o), import('../blind-codes.js')]);
      const data = card.data;
      const texts = await Promise.all(data.codes.map((c) => handOverText(card, c)));
      const rows = data.codes.map((c, i) => ({
        serial: c.serial,
        code: texts[i]!,
        state: c.state,
        ...(c.expires ? { expires: new Date(c.expires).toISOString() } : {}),
        ...(c.givenTo ? { givenTo: c.givenTo } : {}),
      }));
      print(o, rows, () =>
        rows.length
          ? ['SERIAL      STATE         CODE', ...rows.map((r) => `${r.serial}  ${r.state.padEnd(12)}  ${r.code}`)].join('\n')
          : 'this card holds no codes',
      );
    }),
  );

  cardCommand(groups.card, 'import-codes', 'take in a code bundle bought for this card (admin sell-codes)')
    .argument('<bundle>', 'the sealed code bundle')
    .action(
      action(async (bundleFile: string, o: CardOpts) => {
        const sealed = new Uint8Array(readInput(bundleFile, 'the code bundle'));
        const card = await loadCard(o.card, o);
        // Sealed to the card's X25519 key: a bundle for another card does not open here.
        // Loaded here only: the seller's module brings zod, which no other card command needs.
        const { CODE_BUNDLE_CONTEXT } = await import('../../distributor/seller/cards.js');
        const plain = await openForCard(card, CODE_BUNDLE_CONTEXT, sealed);
        let bundle: CodeBundle;
        try {
          bundle = JSON.parse(fromUtf8(plain)) as CodeBundle;
        } catch {
          throw malformed('the code bundle contents are not understood');
        }
        if (bundle?.sealcode !== 'code-bundle' || bundle.v !== 1 || !Array.isArray(bundle.codes)) throw malformed('the code bundle contents are not understood');
        if (bundle.cardId !== card.data.cardId) throw new CliError(`this bundle is for card ${bundle.cardId}, not ${card.data.cardId}`, EXIT.refused, 'REFUSED');
        const added = await addCodes(card, bundle.codes);
        const out = { cardId: card.data.cardId, imported: added, alreadyPresent: bundle.codes.length - added.length };
        print(o, out, () => `imported ${added.length} codes into card ${out.cardId}${out.alreadyPresent ? ` (${out.alreadyPresent} were already there)` : ''}`);
      }),
    );

  cardCommand(groups.card, 'encrypt', 'seal a file with this card for one or more recipients')
    .argument('<in>', 'the file to seal')
    .option('--to <serial|id|group|pair:ID>', 'a recipient: a code serial (its dedicated build), an ID (ID-mode build), `group` (the cards of this group), or pair:PAIRID (repeat for several)', collect, [])
    .option('--sign-only', 'sign without encrypting (patent Fig. 6): anyone can read it, nobody can alter it')
    .option('-o, --out <file>', 'where to write the container (default: IN.seal)')
    .option('--force', 'replace an existing output file')
    .action(
      action(async (input: string, o: CardOpts & { to: string[]; signOnly?: boolean; out?: string; force?: boolean }) => {
        if (o.signOnly && o.to.length) throw new CliError('--sign-only takes no --to: a signed-only file is readable by anyone', EXIT.usage, 'USAGE');
        if (!o.signOnly && !o.to.length) throw new CliError('name at least one recipient with --to (or use --sign-only)', EXIT.usage, 'USAGE');
        const output = o.out ?? `${input}.seal`;
        checkTarget(output, o.force);
        const [card, { recipientsFor }, { sealFileTo }] = await Promise.all([loadCard(o.card, o), import('../recipients.js'), import('../sealing.js')]);
        const recipients = o.signOnly ? [] : recipientsFor(o.to, card.data);
        const meta = await sealFileTo(input, output, { sender: card.party(), recipients, signOnly: o.signOnly, overwrite: o.force });
        const out = { output: path.resolve(output), name: meta.name, size: meta.size, signOnly: Boolean(o.signOnly), recipients };
        print(o, out, () =>
          `${o.signOnly ? 'signed' : 'sealed'} ${input} → ${output}${o.signOnly ? '' : `\n  for: ${recipients.map((r) => `${r.kind} ${r.label}`).join(', ')}`}`,
        );
      }),
    );

  cardCommand(groups.card, 'decrypt', 'open a sealed file with this card, after certifying who sealed it')
    .argument('<in>', 'the sealed file')
    .option('-o, --out <file>', "where to write the content (default: IN without .seal, else the sealed file's name)")
    .option('--force', 'replace an existing output file')
    .action(
      action(async (input: string, o: CardOpts & { out?: string; force?: boolean }) => {
        if (o.out) checkTarget(o.out, o.force);
        const [card, { openFileTo }, { inPeoplesWords, reportOpened, summarize }] = await Promise.all([loadCard(o.card, o), import('../sealing.js'), import('../describe.js')]);
        const r = await openFileTo(
          input,
          (meta) => o.out ?? defaultOpenedPath(input, meta),
          { receiver: card.party(), issuerPub: fromBase64(card.data.issuerPublicKey), overwrite: o.force },
        ).catch((e: unknown) => {
          throw inPeoplesWords(e, path.basename(input).replace(/\.seal$/i, ''));
        });
        reportOpened(o, r.path, r.meta, summarize(r.header, r.verdict));
      }),
    );
}
