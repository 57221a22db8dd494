// The background event page: every listener is registered at top level, so the MV3
// page starts whenever one fires (compose send, a banner asking for verdicts, a page).
import { beforeSend, type SendOutcome } from '../lib/compose-logic.js';
import { dedicatedPlan, purchaserPlan, type RecipientMap } from '../lib/plan.js';
import { messenger, t } from '../lib/messenger.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { FLAVOUR } from './flavour.js';
import { cardPartyOrThrow, hostInfo, knownCard, loadProfile, lockCard, unlockCard } from './keys.js';
import { displayedMessageIds, openedFile, summary, verdictsFor } from './display.js';
import { hostCall } from './host-client.js';
import './game.js';

const m = messenger();

/**
 * Per compose tab: sealing switched on/off in the popup (undefined: the default). Also
 * kept in session storage: an MV3 event page may be suspended between the choice and the
 * send, and a lost "on" must never turn into a message sent in clear.
 */
export const tabSeal = new Map<number, boolean>();

export async function setTabSeal(tabId: number, enabled: boolean): Promise<void> {
  tabSeal.set(tabId, enabled);
  await m.storage.session?.set({ [`tabSeal:${tabId}`]: enabled }).catch(() => undefined);
}

export async function getTabSeal(tabId: number): Promise<boolean | undefined> {
  if (tabSeal.has(tabId)) return tabSeal.get(tabId);
  const key = `tabSeal:${tabId}`;
  const v = m.storage.session ? (await m.storage.session.get(key).catch((): Record<string, unknown> => ({})))[key] : undefined;
  return typeof v === 'boolean' ? v : undefined;
}
export const outcomes: SendOutcome[] = [];
export const banners: { messageId: number; text: string }[] = [];
export const pages: { page: string; text: string }[] = [];

export async function rememberedRecipients(): Promise<RecipientMap> {
  return ((await m.storage.local.get('recipients')).recipients as RecipientMap | undefined) ?? {};
}

export async function rememberRecipient(address: string, spec: RecipientSpec | null): Promise<void> {
  const map = await rememberedRecipients();
  if (spec) map[address.toLowerCase()] = { kind: spec.kind, label: spec.label };
  else delete map[address.toLowerCase()];
  await m.storage.local.set({ recipients: map });
}

export function onBeforeSend(tab: { id: number }, details: Parameters<typeof beforeSend>[2]) {
  return beforeSend(
    {
      listAttachments: (id) => m.compose.listAttachments(id),
      getAttachmentFile: (id) => m.compose.getAttachmentFile(id),
      removeAttachment: (tabId, id) => m.compose.removeAttachment(tabId, id),
      addAttachment: (tabId, a) => m.compose.addAttachment(tabId, a),
      plan: async (tabId, d) =>
        FLAVOUR === 'dedicated'
          ? dedicatedPlan(await loadProfile(), await getTabSeal(tabId))
          : purchaserPlan(d, await rememberedRecipients(), await getTabSeal(tabId), cardPartyOrThrow),
      notify: (why) => {
        void m.notifications
          .create(`sealcode-send-${Date.now()}`, { type: 'basic', title: t('notifyTitle'), message: t('sendCancelled', why) })
          .catch(() => undefined);
      },
      record: (o) => {
        outcomes.push(o);
        if (outcomes.length > 50) outcomes.shift();
      },
    },
    tab.id,
    details,
  );
}

type Msg = { type: string; [k: string]: unknown };

export async function handleMessage(msg: Msg, sender: { tab?: { id: number } }): Promise<unknown> {
  switch (msg.type) {
    case 'banner': {
      const tabId = sender.tab?.id;
      if (tabId === undefined) return [];
      const ids = await displayedMessageIds(tabId);
      const out = [];
      for (const id of ids) out.push({ messageId: id, verdicts: await verdictsFor(id) });
      return out;
    }
    case 'bannerShown':
      banners.push({ messageId: Number(msg.messageId), text: String(msg.text) });
      if (banners.length > 50) banners.shift();
      return true;
    case 'pageShown':
      pages.push({ page: String(msg.page), text: String(msg.text) });
      if (pages.length > 20) pages.shift();
      return true;
    case 'file':
      return openedFile(Number(msg.messageId), String(msg.partName)) ?? null;
    case 'open': {
      const f = openedFile(Number(msg.messageId), String(msg.partName));
      if (!f) return false;
      await m.tabs.create({ url: URL.createObjectURL(f) });
      return true;
    }
    case 'summary':
      return summary();
    case 'hostInfo':
      return hostInfo();
    case 'knownCard':
      return knownCard();
    case 'unlock':
      return unlockCard(String(msg.passphrase), Number(msg.minutes) || 15);
    case 'lock':
      return lockCard();
    case 'codes':
      return hostCall('codes');
    case 'recipients':
      return rememberedRecipients();
    case 'remember':
      await rememberRecipient(String(msg.address), (msg.spec as RecipientSpec | null) ?? null);
      return true;
    case 'setSeal':
      await setTabSeal(Number(msg.tabId), Boolean(msg.enabled));
      return true;
    case 'getSeal':
      return (await getTabSeal(Number(msg.tabId))) ?? null;
    default:
      return undefined;
  }
}

m.compose.onBeforeSend.addListener(onBeforeSend);
m.runtime.onMessage.addListener((msg, sender) => {
  if (!msg || typeof (msg as Msg).type !== 'string' || !(msg as Msg).type) return undefined;
  return handleMessage(msg as Msg, sender).then(
    (r) => ({ ok: true, r }),
    (e: unknown) => ({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
m.runtime.onStartup.addListener(() => undefined);
m.runtime.onInstalled.addListener(() => undefined);
