// Test builds only (tests/addon): runs the steps of test-plan.json, put into the XPI by
// the test, and POSTs results to the test's report server. Every action goes through the
// add-on's real code paths: sending uses compose.sendMessage, so the real onBeforeSend
// seals; judging uses verdictsFor, the function the banner calls, which reads the real
// messages.getAttachmentFile.
import { messenger } from '../lib/messenger.js';
import { runPlan, sleep, type Reporter } from './plan-runner.js';
import { displayedMessageIds, dropHeldFiles, heldFile, summary, verdictsFor } from './display.js';
import { banners, handleMessage, outcomes, pages, rememberRecipient, setTabSeal, testPress } from './main.js';
import { statusState } from './status.js';
import type { Choice } from '../lib/plan.js';
import { patternBytes } from '../lib/pattern.js';
import { inboxMessages, mailTab, sha256Hex } from './test-files.js';
import { runMeasureStep, type MeasureStep } from './measure-test-driver.js';

type Step =
  | MeasureStep
  | { op: 'waitInbox'; count: number }
  | { op: 'verdicts'; subject?: string; cached?: boolean }
  | { op: 'ask'; name: string }
  | { op: 'refreshStatus' }
  | { op: 'waitStatus'; until: 'revoked' | 'attempt' | 'attempted'; timeoutS?: number }
  | { op: 'lock' }
  | { op: 'recipients' }
  | { op: 'pressSave'; subject: string }
  | { op: 'pressUnlock'; subject: string }
  | { op: 'popup'; to: string[]; choices: Record<string, string> }
  | { op: 'saveAfterSuspend'; subject: string }
  | { op: 'send'; to: string[]; subject: string; attachments: { name: string; size: number; seed: number; type?: string }[]; seal?: boolean }
  | { op: 'unlock'; passphrase: string; minutes?: number }
  | { op: 'remember'; address: string; spec: Choice }
  | { op: 'display'; subject: string; screenshot?: string }
  | { op: 'openButton'; subject: string }
  | { op: 'syncCodes' }
  | { op: 'options' };

const m = messenger();
/** Displays the message and has its banner press the button of this role (banner.ts presses it when asked). */
export async function pressInBanner(subject: string, role: string): Promise<{ pressed: boolean }> {
  const msg = (await inboxMessages()).find((x) => x.subject === subject);
  if (!msg) throw new Error(`no message "${subject}"`);
  const tab = await mailTab();
  await m.mailTabs.setSelectedMessages(tab.id, []).catch(() => undefined);
  await sleep(300);
  testPress.role = role;
  await m.mailTabs.setSelectedMessages(tab.id, [msg.id]);
  for (let i = 0; i < 120 && testPress.role; i++) await sleep(250);
  return { pressed: testPress.role === null };
}

async function run(step: Step, r: Reporter): Promise<unknown> {
  switch (step.op) {
    case 'waitInbox': {
      for (let i = 0; i < 120; i++) {
        const msgs = await inboxMessages();
        if (msgs.length >= step.count) return msgs.map((x) => x.subject);
        await sleep(500);
      }
      throw new Error(`inbox did not reach ${step.count} messages`);
    }
    case 'verdicts': {
      const out = [];
      for (const msg of await inboxMessages()) {
        if (step.subject && msg.subject !== step.subject) continue;
        const t0 = performance.now();
        await r.send('progress', { verdictsFor: msg.subject });
        const views = await verdictsFor(msg.id, !step.cached);
        const total = Math.round(performance.now() - t0);
        // When the verdicts were ready: each view's ms before this is the add-on's own open.
        const doneAt = Date.now();
        const files = [];
        for (const v of views) {
          const f = v.partName !== undefined ? heldFile(msg.id, v.partName) : undefined;
          files.push(f ? { name: f.name, size: f.size, sha256: await sha256Hex(f) } : null);
        }
        out.push({ subject: msg.subject, views, files, totalMs: total, doneAt });
      }
      return out;
    }
    case 'send': {
      const tab = await m.compose.beginNew(null, { to: step.to, subject: step.subject, plainTextBody: 'sealcode test' });
      if (step.seal !== undefined) await setTabSeal(tab.id, step.seal);
      for (const a of step.attachments) {
        const file = new File([patternBytes(a.size, a.seed) as BlobPart], a.name, { type: a.type ?? 'application/octet-stream' });
        await m.compose.addAttachment(tab.id, { file, name: a.name });
      }
      let sendError: string | null = null;
      try {
        await m.compose.sendMessage(tab.id, { mode: 'sendNow' });
      } catch (e) {
        sendError = e instanceof Error ? e.message : String(e);
      }
      return { sendError, outcome: outcomes.filter((o) => o.tabId === tab.id).at(-1) ?? null };
    }
    case 'options': {
      const seen = pages.length;
      await m.runtime.openOptionsPage();
      for (let i = 0; i < 80; i++) {
        if (pages.length > seen) return pages.at(-1);
        await sleep(250);
      }
      throw new Error('the options page did not render');
    }
    case 'openButton': {
      // What the banner's Open button asks the background to do.
      const msg = (await inboxMessages()).find((x) => x.subject === step.subject);
      if (!msg) throw new Error(`no message "${step.subject}"`);
      const views = await verdictsFor(msg.id);
      const before = (await m.tabs.query({})).length;
      const opened = await handleMessage({ type: 'open', messageId: msg.id, partName: views[0]?.partName ?? '' }, {});
      await sleep(1000);
      const tabs = await m.tabs.query({});
      return { opened, tabsBefore: before, tabsAfter: tabs.length };
    }
    case 'unlock':
      // As the options page asks it (the background also forgets verdicts and refreshes the status list).
      return handleMessage({ type: 'unlock', passphrase: step.passphrase, minutes: step.minutes ?? 15 }, {});
    case 'lock':
      return handleMessage({ type: 'lock' }, {});
    case 'syncCodes':
      // What the unlock starts; waits for it when one is already under way.
      return handleMessage({ type: 'codeSync' }, {}).then((r) => r ?? handleMessage({ type: 'syncCodes' }, {}));
    case 'recipients':
      return handleMessage({ type: 'recipients' }, {});
    case 'pressSave':
      // The banner's own Save button, pressed in the message pane; the test looks for the file on disk.
      return pressInBanner(step.subject, 'save');
    case 'pressUnlock': {
      // The banner's "Unlock card…" button: it must open the options page, where the card is unlocked.
      const seen = pages.length;
      const { pressed } = await pressInBanner(step.subject, 'unlock');
      let opened: { page: string; text: string } | undefined;
      for (let i = 0; i < 80 && !opened; i++) {
        opened = pages.slice(seen).find((p) => p.page === 'options');
        if (!opened) await sleep(250);
      }
      // Closed again, so that a later options step renders a fresh page.
      for (const v of m.extension.getViews({ type: 'tab' })) if (v.location.pathname.endsWith('/options.html')) v.close();
      return { pressed, options: opened?.text ?? null };
    }
    case 'popup': {
      // The compose action's real popup, opened on a compose window; its inputs filled as a person would.
      const tab = await m.compose.beginNew(null, { to: step.to, subject: 'popup', plainTextBody: 'x' });
      await sleep(1000);
      await m.composeAction.openPopup({ windowId: tab.windowId });
      let doc: Document | null = null;
      for (let i = 0; i < 80 && !doc; i++) {
        const v = m.extension.getViews({ type: 'popup' })[0];
        if (v?.document.querySelector('input[list]')) doc = v.document;
        else await sleep(250);
      }
      if (!doc) throw new Error('the compose popup did not open');
      const seen = pages.length;
      for (const [addr, text] of Object.entries(step.choices)) {
        const input = doc.querySelector<HTMLInputElement>(`input[name="${addr}"]`);
        if (!input) throw new Error(`the popup shows no input for ${addr}`);
        input.value = text;
        input.dispatchEvent(new Event('change'));
      }
      for (let i = 0; i < 80 && pages.slice(seen).filter((p) => p.page === 'popup-remembered').length < Object.keys(step.choices).length; i++) await sleep(250);
      const text = doc.body.innerText;
      await m.tabs.remove(tab.id).catch(() => undefined);
      return { text, remembered: await handleMessage({ type: 'recipients' }, {}) };
    }
    case 'ask': {
      // The test does something outside Thunderbird (install the host, change the status list) and acks.
      if (await r.acknowledged('ask', step.name, { name: step.name }, 240)) return true;
      throw new Error(`the test did not answer ${step.name}`);
    }
    case 'waitStatus': {
      // Only looks: the refresh must come from the add-on's own timer or start-up.
      // `attempt`: a refresh tried after this step began (e.g. with the distributor down);
      // `attempted`: any refresh tried, e.g. the one at start-up.
      const t0 = Date.now();
      for (;;) {
        const st = await statusState();
        const done = step.until === 'revoked' ? Boolean(st.revoked) : step.until === 'attempted' ? Boolean(st.lastAttempt) : (st.lastAttempt?.at ?? 0) > t0;
        if (done || Date.now() - t0 > (step.timeoutS ?? 150) * 1000)
          return { done, waitedMs: Date.now() - t0, revoked: st.revoked, issuedAt: st.list?.issuedAt ?? null, lastAttempt: st.lastAttempt ?? null };
        await sleep(500);
      }
    }
    case 'refreshStatus':
      // What the alarm and start-up run.
      return handleMessage({ type: 'refreshStatus' }, {});
    case 'saveAfterSuspend': {
      // A suspended event page keeps nothing in memory: Save must recompute the file.
      const msg = (await inboxMessages()).find((x) => x.subject === step.subject);
      if (!msg) throw new Error(`no message "${step.subject}"`);
      const views = await verdictsFor(msg.id);
      dropHeldFiles();
      const f = (await handleMessage({ type: 'file', messageId: msg.id, partName: views[0]?.partName ?? '' }, {})) as File | null;
      return { cached: Boolean(views[0]?.cached), file: f ? { name: f.name, size: f.size, sha256: await sha256Hex(f) } : null };
    }
    case 'remember':
      return rememberRecipient(step.address, step.spec);
    case 'display': {
      const msg = (await inboxMessages()).find((x) => x.subject === step.subject);
      if (!msg) throw new Error(`no message "${step.subject}"`);
      const tab = await mailTab();
      // Deselect first: showing the same message again must inject a new banner.
      await m.mailTabs.setSelectedMessages(tab.id, []).catch(() => undefined);
      await sleep(300);
      const seen = banners.length;
      await m.mailTabs.setSelectedMessages(tab.id, [msg.id]);
      for (let i = 0; i < 120; i++) {
        const b = banners.slice(seen).find((x) => x.messageId === msg.id);
        if (b) {
          if (step.screenshot) {
            await sleep(1500);
            // The test answers GET /ack/screenshot/NAME once it has captured the screen.
            await r.acknowledged('screenshot', step.screenshot, { name: step.screenshot, subject: step.subject }, 120);
          }
          return { banner: b.text, displayed: await displayedMessageIds(tab.id) };
        }
        await sleep(250);
      }
      throw new Error('the verdict banner did not appear');
    }
    default:
      return runMeasureStep(step, r);
  }
}

export const startDriver = (): Promise<void> => runPlan('test-plan.json', summary, run);
/** The steps above, for the other drivers that add their own (keys-test-driver.ts). */
export const runDriverStep = (step: { op: string }, r: Reporter): Promise<unknown> => run(step as Step, r);
