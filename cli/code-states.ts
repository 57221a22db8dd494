// Refreshing a card's code states from its distributor (`card sync`, the card host's
// `sync`): the card signs a single-use challenge, the distributor answers the state of
// each of the card's codes, and the file takes the distributor's word except that a code
// the purchaser handed over (`given`) stays given until the distributor sees it used.
import type { CardCode, CardData } from '../card/cardfile.js';
import { SealError } from '../card/errors.js';
import { ServerError, signedRequest } from '../distributor/client.js';
import { CodeStatesResponse } from '../distributor/protocol.js';
import type { OpenedCard } from './card-file.js';
import { CliError, EXIT } from './errors.js';

export interface StateChange {
  serial: string;
  from: CardCode['state'];
  to: CardCode['state'];
}

export interface SyncResult {
  cardId: string;
  distributor: string;
  at: number;
  changed: StateChange[];
  codes: { serial: string; state: CardCode['state']; givenTo?: string }[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The distributor's origin: the one given, else the card's; https, or http on loopback only. */
export function distributorOf(data: CardData, given?: string): string {
  const raw = given ?? data.distributorUrl;
  if (!raw) throw new CliError('this card names no distributor: give --distributor URL', EXIT.usage, 'USAGE');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(`not a URL: ${raw}`, EXIT.usage, 'USAGE');
  }
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname))))
    throw new CliError(`the distributor must be reached over https (http only on this machine): ${u.origin}`, EXIT.usage, 'USAGE');
  return u.origin;
}

/** The distributor's states, laid over the card's codes; returns what changed. */
export function applyCodeStates(data: CardData, states: { serial: string; state: CardCode['state'] }[]): StateChange[] {
  const theirs = new Map(states.map((s) => [s.serial, s.state]));
  const changed: StateChange[] = [];
  for (const c of data.codes) {
    const to = theirs.get(c.serial);
    // Unknown to the distributor, or not yet redeemed there: the card's own record stands.
    if (to === undefined || to === 'unused' || to === c.state) continue;
    changed.push({ serial: c.serial, from: c.state, to });
    c.state = to; // givenTo stays: it says whom the code went to
  }
  return changed;
}

/** Asks the distributor, signing with the card (in memory or in its token). Changes nothing. */
export async function fetchCodeStates(card: OpenedCard, distributor: string) {
  try {
    const r = await signedRequest(distributor, 'code-states', card.data.cardId, card.keys.sign, {}, CodeStatesResponse);
    if (r.cardId !== card.data.cardId) throw new SealError('MALFORMED', 'the distributor answered for another card');
    return r;
  } catch (e) {
    if (e instanceof ServerError && e.code === 'UNREACHABLE') throw new CliError(`${e.message}; the card file is unchanged`);
    throw e;
  }
}

/** Fetches, then applies under the card file's lock to the newest file, and saves if anything changed. */
export async function syncCodeStates(card: OpenedCard, given?: string): Promise<SyncResult> {
  const distributor = distributorOf(card.data, given);
  const r = await fetchCodeStates(card, distributor);
  let changed: StateChange[] = [];
  await card.update((d) => {
    changed = applyCodeStates(d, r.codes);
    return changed.length > 0;
  });
  return {
    cardId: card.data.cardId,
    distributor,
    at: r.at,
    changed,
    codes: card.data.codes.map((c) => ({ serial: c.serial, state: c.state, ...(c.givenTo ? { givenTo: c.givenTo } : {}) })),
  };
}
