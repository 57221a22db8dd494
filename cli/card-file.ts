// A purchaser's card file on disk, of either kind: passphrase-sealed (its secrets in the
// file) or token-backed (its secrets in a PKCS#11 token, the file sealed under a key the
// token makes). Callers get the card's data and its key operations, and never the
// secrets themselves; save() re-seals the file atomically the same way it was opened
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
import type { Token } from './token/pkcs11.js';
import { CliError, EXIT } from './errors.js';

export interface OpenedCard {
  path: string;
  data: CardData;
  keys: CardKeyOps;
  /** The token a token card lives in (open and logged in). */
  token?: { ref: TokenRef; session: Token };
  party(): Party;
  save(): Promise<void>;
  /**
   * Takes in what another process wrote to the file since it was opened or saved here
   * (same card, same secret): call it under the card file's lock before a change, so the
   * change applies to the newest file and nothing written meanwhile is lost.
   */
  reload(): Promise<void>;
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

/** The file's text as this process last read or wrote it; a reload replaces `data`'s fields in place. */
function tracked(file: string, text: string, data: CardData, open: (text: string) => Promise<CardData>) {
  let known = text;
  return {
    write(t: string): void {
      writeFileAtomic(file, t, 0o600);
      known = t;
    },
    async reload(): Promise<void> {
      const now = readInput(file, 'the card file').toString('utf8');
      if (now === known) return;
      const fresh = await open(now);
      if (fresh.cardId !== data.cardId) throw new CliError(`${file} now holds another card (${fresh.cardId})`);
      for (const k of Object.keys(data)) if (!(k in fresh)) delete (data as unknown as Record<string, unknown>)[k];
      Object.assign(data, fresh);
      known = now;
    },
  };
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
      const known = tracked(file, text, data, (t) => openTokenCardFile(t, mac));
      return {
        path: file,
        data,
        keys,
        token: { ref, session },
        party: () => partyOf(data, keys),
        save: async () => known.write(await sealTokenCardFile(data, ref, mac)),
        reload: known.reload,
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
  const known = tracked(file, text, data, (t) => openCardFile(t, passphrase));
  return {
    path: file,
    data,
    keys,
    party: () => partyOf(data, keys),
    save: async () => known.write(await sealCardFile(data, passphrase, cost)),
    reload: known.reload,
    close: () => undefined,
  };
}

export async function loadCard(file: string, opts: PassphraseOptions): Promise<OpenedCard> {
  const text = readInput(file, 'the card file').toString('utf8');
  return openCardText(file, text, (kind) => (kind === 'pin' ? getPin(opts, `the token of card ${file}`) : getPassphrase(opts, `the card ${file}`)));
}

/** Opens what the distributor sealed to this card's X25519 key (in memory or in its token). */
export function openForCard(card: OpenedCard, context: string, sealed: Uint8Array): Promise<Uint8Array> {
  const cert = decodeCert(fromBase64(card.data.cert)) as CardCert;
  return openToCardWith(card.keys, cert.kxPub, context, sealed);
}

