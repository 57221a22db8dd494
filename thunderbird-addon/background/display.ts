// Verdicts for the displayed message: each .seal attachment is fetched with
// messages.getAttachmentFile, certified and (with keys) decrypted into memory. The
// decrypted files stay in this page until the banner's Open/Save asks for them.
import { fromBase64 } from '../../card/bytes.js';
import { judge, type VerdictView } from '../lib/display-logic.js';
import { messenger } from '../lib/messenger.js';
import { isSealedName } from '../lib/seal-files.js';
import { FLAVOUR } from './flavour.js';
import { openingKeys } from './keys.js';
import { loadProfile } from './keys.js';
import { profileCerts } from '../../card/profile.js';

const opened = new Map<string, File>();
const order: string[] = [];
const KEEP = 16;

const keyOf = (messageId: number, partName: string): string => `${messageId}/${partName}`;

function keep(key: string, f: File): void {
  opened.set(key, f);
  order.push(key);
  while (order.length > KEEP) opened.delete(order.shift()!);
}

export async function verdictsFor(messageId: number): Promise<VerdictView[]> {
  const m = messenger();
  const atts = (await m.messages.listAttachments(messageId)).filter((a) => isSealedName(a.name));
  if (!atts.length) return [];
  const keys = await openingKeys(FLAVOUR);
  const out: VerdictView[] = [];
  for (const a of atts) {
    const part = a.partName ?? '';
    if (!keys.issuerPub) {
      const why = FLAVOUR === 'dedicated' ? 'this is the unstamped template' : 'unlock your card once so that sealcode knows its issuer';
      out.push({ attachment: a.name, partName: part, kind: 'locked', reason: why });
      continue;
    }
    const file = await m.messages.getAttachmentFile(messageId, part);
    const j = await judge(file, a.name, { party: keys.party, issuerPub: keys.issuerPub });
    if (j.content) keep(keyOf(messageId, part), j.content);
    out.push({ ...j.view, partName: part });
  }
  return out;
}

/** The verified plaintext for the banner's Open/Save; undefined if it did not open. */
export const openedFile = (messageId: number, partName: string): File | undefined => opened.get(keyOf(messageId, partName));

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
      expired: Date.now() > p.expires,
      issuer: fromBase64(p.issuerPublicKey).length === 32,
    };
  }
  return { flavour: FLAVOUR };
}
