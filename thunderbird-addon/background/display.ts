// Verdicts for the displayed message: each .seal attachment is fetched with
// messages.getAttachmentFile, certified and (with keys) decrypted into memory. Final
// verdicts are cached in storage.session, so a suspended event page answers the banner
// again without re-reading; the decrypted files live in this page only, and Open/Save
// after a suspension recomputes them on demand.
import { fromBase64 } from '../../card/bytes.js';
import { judge, type VerdictView } from '../lib/display-logic.js';
import { messenger } from '../lib/messenger.js';
import { isSealedName } from '../lib/seal-files.js';
import { FLAVOUR } from './flavour.js';
import { openingKeys } from './keys.js';
import { loadProfile } from './keys.js';
import { profileCerts } from '../../card/profile.js';
import { statusState } from './status.js';

const opened = new Map<string, File>();
const order: string[] = [];
const KEEP = 16;
const CACHE = 'verdicts';
/** Verdicts that no unlock or host change alters; the rest are recomputed each time. */
const FINAL = new Set(['certified', 'refused', 'tampered', 'damaged', 'not-for-us']);

const keyOf = (messageId: number, partName: string): string => `${messageId}/${partName}`;

function keep(key: string, f: File): void {
  opened.set(key, f);
  order.push(key);
  while (order.length > KEEP) opened.delete(order.shift()!);
}

type Cache = Record<string, VerdictView[]>;

async function cached(): Promise<Cache> {
  const s = messenger().storage.session;
  if (!s) return {};
  return (((await s.get(CACHE).catch(() => ({}))) as Record<string, unknown>)[CACHE] as Cache | undefined) ?? {};
}

async function cache(messageId: number, views: VerdictView[]): Promise<void> {
  const s = messenger().storage.session;
  if (!s) return;
  const all = await cached();
  all[String(messageId)] = views;
  const keys = Object.keys(all);
  for (const k of keys.slice(0, Math.max(0, keys.length - 200))) delete all[k];
  await s.set({ [CACHE]: all }).catch(() => undefined);
}

/** A new status list can turn a certified verdict into a refusal: forget them all. */
export async function forgetVerdicts(): Promise<void> {
  opened.clear();
  order.length = 0;
  await messenger().storage.session?.set({ [CACHE]: {} }).catch(() => undefined);
}

async function senderOf(messageId: number): Promise<string | undefined> {
  try {
    return (await messenger().messages.get(messageId)).author || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `fresh`: recompute even when cached (Open/Save after a suspension needs the file).
 * Returns the views, with `cached: true` on each when they came from storage.session.
 */
export async function verdictsFor(messageId: number, fresh = false): Promise<VerdictView[]> {
  if (!fresh) {
    const c = (await cached())[String(messageId)];
    if (c) return c.map((v) => ({ ...v, cached: true }));
  }
  const m = messenger();
  const atts = (await m.messages.listAttachments(messageId)).filter((a) => isSealedName(a.name));
  if (!atts.length) return [];
  const [keys, st, sender] = await Promise.all([openingKeys(FLAVOUR), statusState(), senderOf(messageId)]);
  const out: VerdictView[] = [];
  for (const a of atts) {
    const part = a.partName ?? '';
    const base = { attachment: a.name, partName: part, ...(sender ? { sender } : {}) };
    if (st.revoked) {
      out.push({ ...base, kind: 'revoked-self', self: FLAVOUR === 'purchaser' ? 'card' : 'build', reason: st.revoked });
      continue;
    }
    if (keys.needsCode) {
      out.push({ ...base, kind: 'needs-code', reason: keys.needsCode });
      continue;
    }
    if (!keys.issuerPub) {
      if (FLAVOUR === 'dedicated') out.push({ ...base, kind: 'error', reason: 'this is the unstamped template: it holds no keys' });
      else if (keys.host === 'missing') out.push({ ...base, kind: 'host-missing', reason: keys.hostError ?? 'no card host' });
      else if (keys.host === 'unreachable') out.push({ ...base, kind: 'error', reason: keys.hostError ?? 'the card host did not answer' });
      else out.push({ ...base, kind: 'never-unlocked', reason: 'the card has not been unlocked in this profile: its issuer is not known yet' });
      continue;
    }
    // One attachment Thunderbird cannot hand over (e.g. detached to a file since removed)
    // is said on its own line; the message's other files are still judged.
    let file: File;
    try {
      file = await m.messages.getAttachmentFile(messageId, part);
    } catch (e) {
      out.push({ ...base, kind: 'error', reason: `Thunderbird could not hand over the attachment: ${e instanceof Error ? e.message : String(e)}` });
      continue;
    }
    const j = await judge(file, a.name, { party: keys.party, issuerPub: keys.issuerPub, status: st.list });
    if (j.content) keep(keyOf(messageId, part), j.content);
    out.push({ ...j.view, ...base });
  }
  if (out.every((v) => FINAL.has(v.kind))) await cache(messageId, out);
  return out;
}

/** What this page holds now (no recomputing): for the test driver. */
export const heldFile = (messageId: number, partName: string): File | undefined => opened.get(keyOf(messageId, partName));

/** As an event-page suspension would leave it: no decrypted file in memory. */
export function dropHeldFiles(): void {
  opened.clear();
  order.length = 0;
}

/** The verified plaintext for the banner's Open/Save; recomputed when the page was suspended. */
export async function openedFile(messageId: number, partName: string): Promise<File | undefined> {
  const key = keyOf(messageId, partName);
  if (!opened.has(key)) {
    const views = await verdictsFor(messageId, true);
    if (!views.some((v) => v.partName === partName && v.kind === 'certified')) return undefined;
  }
  return opened.get(key);
}

export async function displayedMessageIds(tabId: number): Promise<number[]> {
  const r = await messenger().messageDisplay.getDisplayedMessages(tabId);
  const list = Array.isArray(r) ? r : r.messages;
  return list.map((x) => x.id);
}

export async function summary(): Promise<Record<string, unknown>> {
  if (FLAVOUR === 'dedicated') {
    const p = await loadProfile();
    if (!p) return { flavour: FLAVOUR, stamped: false };
    const { build, purchaser } = profileCerts(p);
    return {
      flavour: FLAVOUR,
      stamped: true,
      buildId: p.buildId,
      serial: build.serial,
      keyKind: build.keyKind,
      keyLabel: build.keyLabel,
      redeemer: build.redeemerEmail,
      purchaser: { name: purchaser.name, email: purchaser.email, cardId: purchaser.cardId },
      expires: p.expires,
      needsCode: p.blind === 'needed',
      expired: Date.now() > p.expires,
      issuer: fromBase64(p.issuerPublicKey).length === 32,
    };
  }
  return { flavour: FLAVOUR };
}
