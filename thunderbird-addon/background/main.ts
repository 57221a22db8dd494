// The background event page: every listener is registered at top level, so the MV3
// page starts whenever one fires (compose send, a banner asking for verdicts, a page).
import { beforeSend, type SendOutcome } from '../lib/compose-logic.js';
import { dedicatedPlan, purchaserPlan, type Choice, type RecipientMap } from '../lib/plan.js';
import { messenger, t } from '../lib/messenger.js';
import { FLAVOUR } from './flavour.js';
import { cardPartyOrThrow, hostInfo, hostState, knownCard, loadProfile, lockCard, stampedProfile, unlockCard } from './keys.js';
import { FIRST_START_PAGE, NEEDS_CODE, askIfNeeded, giveWholeCode } from './first-start.js';
import { displayedMessageIds, forgetVerdicts, openedFile, summary, verdictsFor } from './display.js';
import { hostCall } from './host-client.js';
import './game.js';
import { ALARM, REFRESH_MINUTES, refreshOnWake, refreshStatus, statusState } from './status.js';
import { codeSyncState, syncCodes } from './code-sync.js';
import { SealError } from '../../card/errors.js';

declare const __TEST__: boolean;
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
/** Test builds: a banner button the next banner presses itself, as a person would (tests/addon). */
export const testPress: { role: string | null } = { role: null };

export async function rememberedRecipients(): Promise<RecipientMap> {
  return ((await m.storage.local.get('recipients')).recipients as RecipientMap | undefined) ?? {};
}

/**
 * Remembers the choice for an address; a code handed to someone is written back to the
 * card file through the host (`given`, with the address). Returns what the card says now,
 * or why it could not be told (the card locked, or no host): the choice is kept either way.
 */
let remembering: Promise<unknown> = Promise.resolve();

/** One at a time: the popup sends one message per input, and each rewrites the whole map. */
export function rememberRecipient(address: string, spec: Choice | null): Promise<{ cardWrite?: unknown; cardError?: string }> {
  const next = remembering.then(() => rememberOne(address, spec));
  remembering = next.catch(() => undefined);
  return next;
}

async function rememberOne(address: string, spec: Choice | null): Promise<{ cardWrite?: unknown; cardError?: string }> {
  const addr = address.toLowerCase();
  const map = await rememberedRecipients();
  if (spec) map[addr] = spec.kind === 'sign' ? { kind: 'sign', label: '' } : { kind: spec.kind, label: spec.label };
  else delete map[addr];
  await m.storage.local.set({ recipients: map });
  if (FLAVOUR !== 'purchaser' || spec?.kind !== 'code') return {};
  try {
    return { cardWrite: await hostCall('give', { serial: spec.label, to: addr }) };
  } catch (e) {
    return { cardError: e instanceof Error ? e.message : String(e) };
  }
}

export function onBeforeSend(tab: { id: number }, details: Parameters<typeof beforeSend>[2]) {
  return beforeSend(
    {
      listAttachments: (id) => m.compose.listAttachments(id),
      getAttachmentFile: (id) => m.compose.getAttachmentFile(id),
      removeAttachment: (tabId, id) => m.compose.removeAttachment(tabId, id),
      addAttachment: (tabId, a) => m.compose.addAttachment(tabId, a),
      plan: async (tabId, d) => {
        const enabled = await getTabSeal(tabId);
        const profile = FLAVOUR === 'dedicated' ? await loadProfile() : null;
        if (enabled !== false && profile?.blind === 'needed') throw new SealError('REFUSED', NEEDS_CODE);
        const plan =
          FLAVOUR === 'dedicated'
            ? dedicatedPlan(profile, enabled)
            : purchaserPlan(d, await rememberedRecipients(), enabled, cardPartyOrThrow);
        // A revoked build or card must not seal, and sending in clear instead would be worse.
        const { revoked } = await statusState();
        if (plan && revoked) throw new SealError('REVOKED', `${revoked}: it can no longer seal`);
        return plan;
      },
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
    case 'takePress': {
      const role = testPress.role;
      testPress.role = null;
      return role;
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
      return (await openedFile(Number(msg.messageId), String(msg.partName))) ?? null;
    case 'save': {
      // The message pane cannot download (an <a download> there does nothing): the background saves.
      const f = await openedFile(Number(msg.messageId), String(msg.partName));
      if (!f) return false;
      const url = URL.createObjectURL(f);
      try {
        await m.downloads.download({ url, filename: f.name, saveAs: !__TEST__ });
      } finally {
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      }
      return true;
    }
    case 'open': {
      const f = await openedFile(Number(msg.messageId), String(msg.partName));
      if (!f) return false;
      await m.tabs.create({ url: URL.createObjectURL(f) });
      return true;
    }
    case 'summary':
      return { ...(await summary()), status: await statusState().then(({ list, ...rest }) => ({ ...rest, issuedAt: list?.issuedAt })) };
    case 'openOptions':
      await m.runtime.openOptionsPage();
      return true;
    case 'openFirstStart':
      await m.tabs.create({ url: m.runtime.getURL(FIRST_START_PAGE) });
      return true;
    case 'giveCode': {
      // The whole code from pages/first-start.html: checked, turned into the key, never kept as text.
      const done = await giveWholeCode(await stampedProfile(), String(msg.code ?? ''));
      // "Give your whole code first" verdicts are stale now.
      await forgetVerdicts();
      return { buildId: done.buildId };
    }
    case 'hostState': {
      const { host, info, error } = await hostState();
      return { host, info, error };
    }
    case 'refreshStatus':
      return refreshStatus(forgetVerdicts);
    case 'hostInfo':
      return hostInfo();
    case 'knownCard':
      return knownCard();
    case 'unlock': {
      const info = await unlockCard(String(msg.passphrase), Number(msg.minutes) || 15);
      // Verdicts said while locked ("origin certified, unlock to open") are stale now.
      await forgetVerdicts();
      // The card names its distributor: the status list can be fetched from now on.
      void refreshStatus(forgetVerdicts, 5 * 60_000);
      // The card can sign now: its code states are refreshed from the distributor.
      if (!info.locked) void syncCodes();
      return info;
    }
    case 'lock': {
      const info = await lockCard();
      // A cached "certified, open or save" no longer holds once the card is locked.
      await forgetVerdicts();
      return info;
    }
    case 'codes':
      return hostCall('codes');
    case 'syncCodes':
      return syncCodes();
    case 'codeSync':
      return codeSyncState();
    case 'recipients':
      return rememberedRecipients();
    case 'remember':
      return rememberRecipient(String(msg.address), (msg.spec as Choice | null) ?? null);
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
// A blind code's build asks for the whole code on install, and again on each start until given.
const askForCode = (): void => void (FLAVOUR === 'dedicated' ? stampedProfile().then(askIfNeeded).catch(() => false) : undefined);
m.runtime.onStartup.addListener(askForCode);
m.runtime.onInstalled.addListener((d) => {
  if (d?.reason === 'install') askForCode();
});
// The status list on start-up and on a timer; a failed fetch keeps the last list.
m.alarms.onAlarm.addListener((a) => {
  if (a.name === ALARM) void refreshStatus(forgetVerdicts);
});
// Created once: creating it again on every wake of the event page would restart its period,
// and a page woken more often than hourly would never see it fire.
void m.alarms.get(ALARM).then((a) => (a?.periodInMinutes === REFRESH_MINUTES ? undefined : m.alarms.create(ALARM, { periodInMinutes: REFRESH_MINUTES })));
void refreshOnWake(forgetVerdicts);
// A card left unlocked in the host (the event page woke again): refresh its code states.
if (FLAVOUR === 'purchaser') void hostInfo().then((i) => (i.locked ? undefined : syncCodes()), () => undefined);
