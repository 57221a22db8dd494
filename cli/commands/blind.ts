// `sealcode card blind [export|import]`: the group's blind secret B. It is made on a
// purchaser's machine (or inside a token) and travels only card to card, sealed to the
// receiving card's X25519 key and signed by the sending card, never through the seller
// in the clear. A token card keeps B inside the token and cannot send it on.
import path from 'node:path';
import type { Command } from 'commander';
import { randomBytes } from '@noble/hashes/utils.js';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { passphraseOption, type PassphraseOptions } from '../passphrase.js';
import { loadCard, openForCard, type OpenedCard } from '../card-file.js';
import { checkTarget, readInput, writeFileAtomic } from '../files.js';
import { validId } from '../recipients.js';
import { isSerial } from '../../card/codes.js';
import { blindPartFor } from '../blind-codes.js';
import { formatBlindCode } from '../../card/blind.js';
import { storeBlindSecret } from '../token/card-token.js';
import { concat, fromBase64, toBase64, utf8 } from '../../card/bytes.js';
import { verifyCert, type CardCert } from '../../card/certs.js';
import { malformed } from '../../card/errors.js';
import { verify } from '../../card/keys.js';
import { sealToCard } from '../../card/pairkey.js';

const CONTEXT = 'blind secret';

interface BlindFile {
  sealcode: 'blind-secret';
  v: 1;
  groupId: string;
  fromCert: string; // base64 card certificate of the sending card
  forCard: string;
  sealed: string; // base64 sealToCard(receiver, CONTEXT, B)
  sig: string; // base64 Ed25519 by the sending card over signedPart()
}

const signedPart = (f: Pick<BlindFile, 'groupId' | 'forCard' | 'sealed'>): Uint8Array =>
  concat(utf8('sealcode blind secret v1\0'), utf8(f.groupId), Uint8Array.of(0), utf8(f.forCard), Uint8Array.of(0), fromBase64(f.sealed));

interface Opts extends PassphraseOptions {
  card: string;
  json?: boolean;
}

const withCard = (c: Command): Command => passphraseOption(c.requiredOption('--card <card_file>', 'the card file')).option('--json', 'print JSON');

function needBlindGroup(card: OpenedCard): void {
  if (!card.data.blind)
    throw new CliError(`the group ${card.data.groupId} was not issued with blind codes (admin issue-card --blind): its codes have no blind part`, EXIT.usage, 'USAGE');
}

const holdsBlind = (card: OpenedCard): boolean => Boolean(card.data.blindSecret || card.data.blindInToken);

/** Keeps B: in the token for a token card, in the sealed card file otherwise. */
async function keepBlindSecret(card: OpenedCard, secret?: Uint8Array): Promise<void> {
  if (card.token) storeBlindSecret(card.token.session, card.data.cardId, secret);
  const b = card.token ? undefined : toBase64(secret ?? randomBytes(32));
  await card.update((d) => {
    if (b) d.blindSecret = b;
    else d.blindInToken = true;
    return true;
  });
}

export function register(_program: Command, groups: Groups): void {
  // One command with an optional step, so that --card reads the same in all three forms.
  withCard(groups.card.command('blind'))
    .description(
      "the group's blind secret: with no step, make it on this card (inside the token for a token card); `export` seals it to another card of the group; `import FILE` takes it in",
    )
    .argument('[step]', 'export | import (none: make it here)')
    .argument('[file]', 'with import: the file from `card blind export`')
    .option('--to <card_id>', 'with export: the receiving card')
    .option('--cert <file>', "with export: the receiving card's certificate (from `sealcode card cert`)")
    .option('-o, --out <file>', 'with export: where to write it (default: blind-GROUP-for-CARD.json)')
    .action(
      action(async (step: string | undefined, file: string | undefined, o: Opts & { to?: string; cert?: string; out?: string }) => {
        if (step === undefined) return make(o);
        if (step === 'export') {
          if (!o.to || !o.cert) throw new CliError('export needs --to CARD_ID and --cert FILE', EXIT.usage, 'USAGE');
          return exportTo(o as Opts & { to: string; cert: string; out?: string });
        }
        if (step === 'import') {
          if (!file) throw new CliError('import needs the file from `card blind export`', EXIT.usage, 'USAGE');
          return importFrom(file, o);
        }
        throw new CliError(`unknown step ${JSON.stringify(step)}: use export or import, or none`, EXIT.usage, 'USAGE');
      }),
    );

  withCard(groups.card.command('cert'))
    .description("write this card's certificate (public): what another card of the group needs to send it the blind secret")
    .option('-o, --out <file>', 'where to write it (default: stdout)')
    .action(
      action(async (o: Opts & { out?: string }) => {
        const card = await loadCard(o.card, o);
        if (o.out) {
          checkTarget(o.out);
          writeFileAtomic(o.out, card.data.cert + '\n', 0o644);
        }
        print(o, { cardId: card.data.cardId, cert: card.data.cert }, () => (o.out ? `certificate of card ${card.data.cardId}: ${o.out}` : card.data.cert));
      }),
    );

  withCard(groups.card.command('blind-part'))
    .description('the blind part of one code, with the whole code when it is on this card (or of an ID, for a code to be redeemed in ID mode)')
    .requiredOption('--serial <serial>', "the code's serial")
    .option('--id <id>', 'the ID the code will be redeemed with (ID mode)')
    .action(
      action(async (o: Opts & { serial: string; id?: string }) => {
        const card = await loadCard(o.card, o);
        needBlindGroup(card);
        if (!isSerial(o.serial)) throw new CliError(`${o.serial} is not a code serial`, EXIT.usage, 'USAGE');
        // A code of another card of the group has the same blind part: only its text is not here.
        const c = card.data.codes.find((x) => x.serial === o.serial);
        const id = o.id === undefined ? undefined : validId(o.id);
        const part = await blindPartFor(card, id ? 'id' : 'code', id ?? o.serial);
        const out = { serial: o.serial, ...(id ? { id } : {}), blindPart: part, ...(c ? { code: formatBlindCode(c.code, part) } : {}) };
        print(o, out, () => out.code ?? part);
      }),
    );
}

async function make(o: Opts): Promise<void> {
  const card = await loadCard(o.card, o);
  needBlindGroup(card);
  if (holdsBlind(card)) throw new CliError('this card already holds a blind secret', EXIT.usage, 'USAGE');
  await keepBlindSecret(card);
  const out = { cardId: card.data.cardId, groupId: card.data.groupId, where: card.token ? 'token' : 'card file' };
  print(o, out, () =>
    `card ${out.cardId} now holds the blind secret of group ${out.groupId} (in the ${out.where}).\nGive it to the group's other cards with \`sealcode card blind export --card ${o.card} --to CARD_ID --cert THEIR.cert\`.`,
  );
}

async function exportTo(o: Opts & { to: string; cert: string; out?: string }): Promise<void> {
  const card = await loadCard(o.card, o);
  needBlindGroup(card);
  if (card.token) throw new CliError('this card keeps its blind secret inside its token, which never lets it out: export from a card-file card of the group', EXIT.refused, 'REFUSED');
  if (!card.data.blindSecret) throw new CliError('this card holds no blind secret to give', EXIT.usage, 'USAGE');
  const peer = verifyCert(fromBase64(readInput(o.cert, 'the certificate').toString('utf8').trim()), fromBase64(card.data.issuerPublicKey)).cert;
  if (peer.type !== 'card' || peer.cardId !== o.to) throw new CliError(`${o.cert} is not the certificate of card ${o.to}`, EXIT.refused, 'REFUSED');
  if (peer.groupId !== card.data.groupId) throw new CliError(`card ${o.to} is not of group ${card.data.groupId}: the blind secret stays in the group`, EXIT.refused, 'REFUSED');
  const out = o.out ?? `blind-${card.data.groupId}-for-${o.to}.json`;
  checkTarget(out);
  const sealed = toBase64(sealToCard(peer.kxPub, CONTEXT, fromBase64(card.data.blindSecret)));
  const body = { groupId: card.data.groupId, forCard: o.to, sealed };
  const file: BlindFile = { sealcode: 'blind-secret', v: 1, fromCert: card.data.cert, ...body, sig: toBase64(await card.keys.sign(signedPart(body))) };
  writeFileAtomic(out, JSON.stringify(file, null, 1) + '\n', 0o600);
  print(o, { forCard: o.to, out: path.resolve(out) }, () => `the blind secret is sealed for card ${o.to}: ${out}\nIts holder runs \`sealcode card blind import --card THEIR_CARD ${out}\`.`);
}

async function importFrom(file: string, o: Opts): Promise<void> {
  let f: BlindFile;
  try {
    f = JSON.parse(readInput(file, 'the blind secret file').toString('utf8')) as BlindFile;
  } catch {
    throw malformed('not a sealcode blind secret file');
  }
  if (f?.sealcode !== 'blind-secret' || f.v !== 1 || ![f.groupId, f.fromCert, f.forCard, f.sealed, f.sig].every((x) => typeof x === 'string'))
    throw malformed('not a sealcode blind secret file');
  const card = await loadCard(o.card, o);
  needBlindGroup(card);
  if (f.forCard !== card.data.cardId) throw new CliError(`this blind secret is for card ${f.forCard}, not ${card.data.cardId}`, EXIT.refused, 'REFUSED');
  const from = verifyCert(fromBase64(f.fromCert), fromBase64(card.data.issuerPublicKey)).cert as CardCert;
  if (from.type !== 'card' || from.groupId !== card.data.groupId || f.groupId !== card.data.groupId)
    throw new CliError('this blind secret does not come from a card of this group', EXIT.refused, 'REFUSED');
  if (!verify(from.signPub, signedPart(f), fromBase64(f.sig))) throw new CliError('the blind secret file is not signed by the card it names: changed on the way?', EXIT.malformed, 'TAMPERED');
  if (holdsBlind(card)) throw new CliError('this card already holds a blind secret', EXIT.usage, 'USAGE');
  const secret = await openForCard(card, CONTEXT, fromBase64(f.sealed));
  if (secret.length !== 32) throw malformed('the blind secret is not 32 bytes');
  await keepBlindSecret(card, secret);
  print(o, { cardId: card.data.cardId, fromCard: from.cardId }, () => `card ${card.data.cardId} now holds the group's blind secret (from card ${from.cardId})`);
}
