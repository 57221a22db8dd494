// Where the add-on's keys come from. Dedicated: profile.json stamped into the XPI.
// Purchaser: the card behind the native host, usable only while unlocked.
import { fromBase64 } from '../../card/bytes.js';
import { SealError } from '../../card/errors.js';
import { remoteParty, type HostInfo } from '../../card/host-protocol.js';
import { buildParty, type Party } from '../../card/party.js';
import { parseProfile, profileSecrets, type DedicatedProfile } from '../../card/profile.js';
import { messenger } from '../lib/messenger.js';
import { hostCall } from './host-client.js';
import { NEEDS_CODE, withBlindPart } from './first-start.js';

let profile: Promise<DedicatedProfile | null> | null = null;

/** The profile as stamped; a blind code's build still lacks its blind part here. */
export function stampedProfile(): Promise<DedicatedProfile | null> {
  profile ??= (async () => {
    try {
      const r = await fetch(messenger().runtime.getURL('profile.json'));
      if (!r.ok) return null;
      return parseProfile(await r.json());
    } catch {
      return null; // the unstamped template
    }
  })();
  return profile;
}

/** The profile to work with: a blind code's build with the key derived on first start, once given. */
export async function loadProfile(): Promise<DedicatedProfile | null> {
  const p = await stampedProfile();
  return p && withBlindPart(p);
}

/** Public card facts survive a lock, so a locked card can still certify keylessly. */
async function rememberCard(info: HostInfo): Promise<HostInfo> {
  if (info.card) await messenger().storage.local.set({ card: info.card });
  return info;
}

export async function hostInfo(): Promise<HostInfo> {
  return rememberCard(await hostCall('info'));
}
export async function unlockCard(passphrase: string, minutes: number): Promise<HostInfo> {
  return rememberCard(await hostCall('unlock', { passphrase, minutes }));
}
export const lockCard = (): Promise<HostInfo> => hostCall('lock');

export async function knownCard(): Promise<HostInfo['card'] | undefined> {
  return (await messenger().storage.local.get('card')).card as HostInfo['card'] | undefined;
}

/** The card as a party; throws a clear error when it is locked or unreachable. */
export async function cardPartyOrThrow(): Promise<Party> {
  const info = await hostInfo();
  if (info.locked || !info.card) throw new SealError('USAGE', 'the card is locked: unlock it in the sealcode options first');
  return remoteParty(hostCall, fromBase64(info.card.cert));
}

/** The purchaser's link to the card, as the banner and the options page tell it. */
export type HostState = 'missing' | 'unreachable' | 'locked' | 'unlocked';

export interface OpeningKeys {
  party: Party | null;
  issuerPub: Uint8Array | null;
  host?: HostState;
  hostError?: string;
  /** A blind code's build that has not been given its whole code yet: why nothing opens. */
  needsCode?: string;
}

/** Thunderbird says this (and only this) when no manifest names the host for this add-on. */
export const isHostMissing = (message: string): boolean => /No such native application/i.test(message);

export async function hostState(): Promise<{ host: HostState; info?: HostInfo; error?: string }> {
  try {
    const info = await hostInfo();
    return { host: info.locked ? 'locked' : 'unlocked', info };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    return { host: isHostMissing(error) ? 'missing' : 'unreachable', error };
  }
}

export async function openingKeys(flavour: 'purchaser' | 'dedicated'): Promise<OpeningKeys> {
  if (flavour === 'dedicated') {
    const p = await loadProfile();
    if (!p) return { party: null, issuerPub: null };
    if (p.blind === 'needed') return { party: null, issuerPub: fromBase64(p.issuerPublicKey), needsCode: NEEDS_CODE };
    return { party: buildParty(profileSecrets(p)), issuerPub: fromBase64(p.issuerPublicKey) };
  }
  // Host unreachable or locked: keyless, with the issuer key remembered from an unlock.
  const { host, info, error } = await hostState();
  const card = info?.card ?? (await knownCard());
  const issuerPub = card ? fromBase64(card.issuerPublicKey) : null;
  const party = info && !info.locked && info.card ? remoteParty(hostCall, fromBase64(info.card.cert)) : null;
  return { party, issuerPub, host, ...(error ? { hostError: error } : {}) };
}
