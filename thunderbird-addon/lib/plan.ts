// Whom a message is sealed for. Purchaser: per recipient address (remembered) a code
// serial, an ID, the card's group, a pair key, or signature-only; several addresses
// share one container. Dedicated: its one purchaser, and nothing after the build's expiry.
import { SealError } from '../../card/errors.js';
import { buildParty, buildRecipient, type Party } from '../../card/party.js';
import { profileCerts, profileSecrets, type DedicatedProfile } from '../../card/profile.js';
import { fromBase64 } from '../../card/bytes.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { emailOf } from './bytes.js';
import type { ComposeDetailsLike } from './messenger.js';
import type { SealPlan } from './seal-files.js';

/** A recipient's choice: a stanza to seal for, or `sign` (signed, not encrypted: Fig. 6). */
export type Choice = RecipientSpec | { kind: 'sign'; label: '' };
export type RecipientMap = Record<string, Choice>;

/** What the compose popup shows for a choice, and reads back (the CLI's `--to` forms). */
export function choiceText(c: Choice): string {
  if (c.kind === 'sign') return 'sign-only';
  if (c.kind === 'group') return 'group';
  if (c.kind === 'id' || c.kind === 'pair') return `${c.kind}:${c.label}`;
  return c.label;
}

export function parseChoice(text: string, card: { groupId?: string; pairs?: string[] }): Choice | null {
  const v = text.trim();
  if (!v) return null;
  if (v === 'sign-only') return { kind: 'sign', label: '' };
  if (v === 'group') {
    if (!card.groupId) throw new SealError('USAGE', 'unlock the card once so that its group is known');
    return { kind: 'group', label: card.groupId };
  }
  if (v.startsWith('pair:')) {
    const id = v.slice(5);
    if (card.pairs && !card.pairs.includes(id)) throw new SealError('USAGE', `this card holds no pair key ${id}`);
    return { kind: 'pair', label: id };
  }
  if (v.startsWith('id:')) {
    const id = v.slice(3);
    if (!id || id.length > 64 || /\s/.test(id)) throw new SealError('USAGE', 'an ID is 1 to 64 characters without spaces');
    return { kind: 'id', label: id };
  }
  return { kind: 'code', label: v.toUpperCase() };
}

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
  if (missing.length) throw new SealError('USAGE', `nothing chosen to seal for ${missing.join(', ')} (use the sealcode compose button)`);
  const signers = addrs.filter((_, i) => specs[i]!.kind === 'sign');
  if (signers.length === addrs.length) return { party: await party(), recipients: [], addressees: [], origin: 'card', signOnly: true };
  // One container serves every recipient: a readable signed copy beside an encrypted one would leak it.
  if (signers.length)
    throw new SealError('USAGE', `${signers.join(', ')} ${signers.length > 1 ? 'are' : 'is'} set to signature-only and the others to sealed: choose one for all, or send separately`);
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
