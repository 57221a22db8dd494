// A purchaser's card file on disk, of either kind: passphrase-sealed (its secrets in the
// file) or token-backed (its secrets in a PKCS#11 token, the file sealed under a key the
// token makes). Callers get the card's data and its key operations, and never the
// secrets themselves; update() changes the file under its lock and re-seals it atomically
// the same way it was opened
// (a passphrase card at the same key-stretching cost).
import { openCardFile, sealCardFile, type CardData } from '../card/cardfile.js';
import { fromBase64 } from '../card/bytes.js';
import { decodeCert, type CardCert } from '../card/certs.js';
import { openToCardWith } from '../card/pairkey.js';
import { memoryKeyOps, type CardKeyOps } from '../card/keyops.js';
import { cardPartyWith, type Party } from '../card/party.js';
import { openTokenCardFile, sealTokenCardFile, tokenRefOf, type TokenRef } from '../card/tokencard.js';
import { getPassphrase, type PassphraseOptions } from './passphrase.js';
import { getPin } from './pin.js';
import { readInput, writeFileAtomic } from './files.js';
import { withCardFileLock } from './lock-file.js';
import type { Token } from './token/pkcs11.js';
import { CliError, EXIT } from './errors.js';

export interface OpenedCard {
  path: string;
  data: CardData;
  keys: CardKeyOps;
  /** The token a token card lives in (open and logged in). */
  token?: { ref: TokenRef; session: Token };
  party(): Party;
  /**
   * Changes the card file: under its lock (FILE.lock), takes in what another process wrote
   * since this one read it, applies `change` to that, and re-seals the file when `change`
   * says it changed something. Every writer goes through here, so the card host's open card
   * and a CLI command never undo each other's changes.
   */
  update(change: (data: CardData) => boolean | Promise<boolean>): Promise<boolean>;
  close(): void;
}

export function memoryKeysOf(d: CardData): CardKeyOps {
  return memoryKeyOps({
    signSecret: fromBase64(d.signSecret),
    kxSecret: fromBase64(d.kxSecret),
    groupKey: fromBase64(d.groupKey),
    ...(d.blindSecret ? { blindSecret: fromBase64(d.blindSecret) } : {}),
  });
}

export const partyOf = (d: CardData, keys: CardKeyOps): Party =>
  cardPartyWith(keys, { cert: fromBase64(d.cert), groupId: d.groupId, pairs: d.pairs.map((p) => ({ pairId: p.pairId, key: fromBase64(p.key) })), blind: d.blind });

/**
 * OpenedCard.update for one opened card: `known` is the file's text as this process last
 * read or wrote it; a newer file is opened again (same secret) and replaces `data`'s fields
 * in place, so every holder of `data` sees it.
 */
function updater(file: string, text: string, data: CardData, open: (text: string) => Promise<CardData>, seal: () => Promise<string>) {
  let known = text;
  return (change: (d: CardData) => boolean | Promise<boolean>): Promise<boolean> =>
    withCardFileLock(file, async () => {
      const now = readInput(file, 'the card file').toString('utf8');
      if (now !== known) {
        const fresh = await open(now);
        if (fresh.cardId !== data.cardId) throw new CliError(`${file} now holds another card (${fresh.cardId})`);
        for (const k of Object.keys(data)) if (!(k in fresh)) delete (data as unknown as Record<string, unknown>)[k];
        Object.assign(data, fresh);
        known = now;
      }
      if (!(await change(data))) return false;
      const t = await seal();
      writeFileAtomic(file, t, 0o600);
      known = t;
      return true;
    });
}

/**
 * The PKCS#11 binding is loaded only for a token card: a purchaser with a passphrase card
 * installs the package without building native modules, and every card command still runs.
 */
async function tokenModules() {
  try {
    const [{ Token }, { fileMac, tokenKeyOps }] = await Promise.all([import('./token/pkcs11.js'), import('./token/card-token.js')]);
    return { Token, fileMac, tokenKeyOps };
  } catch (e) {
    throw new CliError(
      `this card lives on a PKCS#11 token, and the pkcs11js module is not built here (${(e as Error).message.split('\n')[0]}); install sealcode with --allow-scripts=pkcs11js`,
      EXIT.other,
    );
  }
}

/** Opens a card file with its PIN (token card) or passphrase; the text is already read. */
export async function openCardText(file: string, text: string, secret: (kind: 'pin' | 'passphrase') => Promise<string>): Promise<OpenedCard> {
  const ref = tokenRefOf(text);
  if (ref) {
    const { Token, fileMac, tokenKeyOps } = await tokenModules();
    const session = Token.open(ref, await secret('pin'));
    try {
      const mac = fileMac(session, ref.cardId);
      const data = await openTokenCardFile(text, mac);
      const keys = tokenKeyOps(session, ref.cardId);

      return {
        path: file,
        data,
        keys,
        token: { ref, session },
        party: () => partyOf(data, keys),
        update: updater(file, text, data, (t) => openTokenCardFile(t, mac), () => sealTokenCardFile(data, ref, mac)),
        close: () => session.close(),
      };
    } catch (e) {
      session.close();
      throw e;
    }
  }
  const passphrase = await secret('passphrase');
  const data = await openCardFile(text, passphrase);
  const keys = memoryKeysOf(data);
  // Re-sealed at the cost it was sealed with (openCardFile has checked the envelope).
  const cost = (JSON.parse(text) as { kdf: { N: number } }).kdf.N;
  return {
    path: file,
    data,
    keys,
    party: () => partyOf(data, keys),
    update: updater(file, text, data, (t) => openCardFile(t, passphrase), () => sealCardFile(data, passphrase, cost)),
    close: () => undefined,
  };
}

export async function loadCard(file: string, opts: PassphraseOptions): Promise<OpenedCard> {
  const text = readInput(file, 'the card file').toString('utf8');
  return openCardText(file, text, (kind) => (kind === 'pin' ? getPin(opts, `the token of card ${file}`) : getPassphrase(opts, `the card ${file}`)));
}

/** Adds the codes of a bundle the card does not hold yet; returns their serials. */
export async function addCodes(card: OpenedCard, codes: { serial: string; code: string; expires?: number }[]): Promise<string[]> {
  let added: string[] = [];
  await card.update((d) => {
    const have = new Set(d.codes.map((c) => c.serial));
    const fresh = codes.filter((c) => !have.has(c.serial));
    d.codes.push(...fresh.map((c) => ({ serial: c.serial, code: c.code, state: 'unused' as const, expires: c.expires })));
    added = fresh.map((c) => c.serial);
    return fresh.length > 0;
  });
  return added;
}

/** Opens what the distributor sealed to this card's X25519 key (in memory or in its token). */
export function openForCard(card: OpenedCard, context: string, sealed: Uint8Array): Promise<Uint8Array> {
  const cert = decodeCert(fromBase64(card.data.cert)) as CardCert;
  return openToCardWith(card.keys, cert.kxPub, context, sealed);
}

