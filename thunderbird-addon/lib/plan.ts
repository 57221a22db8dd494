// Whom a message is sealed for. Purchaser: a code serial or ID chosen per recipient
// address (remembered), several addresses sharing one container. Dedicated: its one
// purchaser, and nothing at all after the build's expiry.
import { SealError } from '../../card/errors.js';
import { buildParty, buildRecipient, type Party } from '../../card/party.js';
import { profileCerts, profileSecrets, type DedicatedProfile } from '../../card/profile.js';
import { fromBase64 } from '../../card/bytes.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { emailOf } from './bytes.js';
import type { ComposeDetailsLike } from './messenger.js';
import type { SealPlan } from './seal-files.js';

export type RecipientMap = Record<string, RecipientSpec>;

export function addressesOf(d: ComposeDetailsLike): string[] {
  const all = [...(d.to ?? []), ...(d.cc ?? []), ...(d.bcc ?? [])];
  const out = all.filter((r): r is string => typeof r === 'string').map(emailOf).filter(Boolean);
  return [...new Set(out)];
}

export async function purchaserPlan(
  details: ComposeDetailsLike,
  remembered: RecipientMap,
  tabEnabled: boolean | undefined,
  party: () => Promise<Party>,
): Promise<SealPlan | null> {
  const addrs = addressesOf(details);
  const specs = addrs.map((a) => remembered[a]);
  const asked = tabEnabled ?? specs.some(Boolean);
  if (!asked) return null;
  if (addrs.length === 0) throw new SealError('USAGE', 'sealing was asked for, but the message has no recipients');
  const missing = addrs.filter((_, i) => !specs[i]);
  if (missing.length) throw new SealError('USAGE', `no code or ID chosen for ${missing.join(', ')} (use the sealcode compose button)`);
  const seen = new Set<string>();
  const recipients: RecipientSpec[] = [];
  for (const s of specs as RecipientSpec[]) {
    const k = `${s.kind}:${s.label}`;
    if (!seen.has(k)) {
      seen.add(k);
      recipients.push({ kind: s.kind, label: s.label });
    }
  }
  return { party: await party(), recipients, addressees: [], origin: 'card' };
}

export function checkBuildUsable(p: DedicatedProfile, now: number): void {
  if (now > p.expires)
    throw new SealError('EXPIRED', `this dedicated build expired on ${new Date(p.expires).toISOString().slice(0, 10)}: it can no longer seal or open`);
}

export function dedicatedPlan(profile: DedicatedProfile | null, tabEnabled: boolean | undefined, now = Date.now()): SealPlan | null {
  if (tabEnabled === false) return null;
  if (!profile) throw new SealError('USAGE', 'this is the unstamped dedicated template: it holds no keys');
  checkBuildUsable(profile, now);
  const { build } = profileCerts(profile);
  return {
    party: buildParty(profileSecrets(profile)),
    recipients: [buildRecipient(build)],
    addressees: [fromBase64(profile.purchaserCert)],
    origin: 'dedicated',
  };
}
