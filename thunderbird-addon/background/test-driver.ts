// Test builds only (tests/addon): runs the steps of test-plan.json, put into the XPI by
// the test, and POSTs results to the test's report server. Every action goes through the
// add-on's real code paths: sending uses compose.sendMessage, so the real onBeforeSend
// seals; judging uses verdictsFor, the function the banner calls, which reads the real
// messages.getAttachmentFile.
import { messenger } from '../lib/messenger.js';
import { displayedMessageIds, openedFile, summary, verdictsFor } from './display.js';
import { banners, outcomes, rememberRecipient, tabSeal } from './main.js';
import { unlockCard } from './keys.js';
import type { RecipientSpec } from '../../card/stanza.js';

interface Plan {
  reportUrl: string;
  steps: Step[];
}
type Step =
  | { op: 'waitInbox'; count: number }
  | { op: 'verdicts'; subject?: string }
  | { op: 'send'; to: string[]; subject: string; attachments: { name: string; size: number; seed: number; type?: string }[]; seal?: boolean }
  | { op: 'unlock'; passphrase: string; minutes?: number }
  | { op: 'remember'; address: string; spec: RecipientSpec }
  | { op: 'display'; subject: string; screenshot?: boolean };

const m = messenger();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let reportUrl = '';

async function report(event: string, data: unknown = {}): Promise<void> {
  await fetch(reportUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ event, data }) }).catch(() => undefined);
}

/** Test pattern shared with tests/addon/support: byte i of seed s. */
export function patternBytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 255;
  }
  return b;
}

async function sha256Hex(b: Blob): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await b.arrayBuffer()));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function inbox(): Promise<string> {
  for (let i = 0; i < 120; i++) {
    const accounts = await m.accounts.list();
    const imap = accounts.find((a) => a.type === 'imap');
    if (imap) {
      const f = await m.folders.query({ accountId: imap.id, specialUse: ['inbox'] });
      if (f[0]) return f[0].id;
    }
    await sleep(500);
  }
  throw new Error('no IMAP inbox appeared');
}

async function inboxMessages(): Promise<{ id: number; subject: string }[]> {
  const r = await m.messages.list(await inbox());
  return r.messages;
}

async function run(step: Step): Promise<unknown> {
  switch (step.op) {
    case 'waitInbox': {
      for (let i = 0; i < 240; i++) {
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
        const views = await verdictsFor(msg.id);
        const total = Math.round(performance.now() - t0);
        const files = [];
        for (const v of views) {
          const f = v.partName !== undefined ? openedFile(msg.id, v.partName) : undefined;
          files.push(f ? { name: f.name, size: f.size, sha256: await sha256Hex(f) } : null);
        }
        out.push({ subject: msg.subject, views, files, totalMs: total });
      }
      return out;
    }
    case 'send': {
      const tab = await m.compose.beginNew(null, { to: step.to, subject: step.subject, plainTextBody: 'sealcode test' });
      if (step.seal !== undefined) tabSeal.set(tab.id, step.seal);
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
    case 'unlock':
      return unlockCard(step.passphrase, step.minutes ?? 15);
    case 'remember':
      await rememberRecipient(step.address, step.spec);
      return true;
    case 'display': {
      const msg = (await inboxMessages()).find((x) => x.subject === step.subject);
      if (!msg) throw new Error(`no message "${step.subject}"`);
      const [tab] = await m.mailTabs.query({});
      if (!tab) throw new Error('no mail tab');
      await m.mailTabs.update(tab.id, { displayedFolderId: await inbox() });
      await m.mailTabs.setSelectedMessages(tab.id, [msg.id]);
      for (let i = 0; i < 120; i++) {
        const b = banners.find((x) => x.messageId === msg.id);
        if (b) {
          if (step.screenshot) {
            await sleep(1500);
            await report('screenshot', { subject: step.subject });
            // The test answers once it has captured the screen.
            await fetch(`${reportUrl}/ack`).catch(() => undefined);
          }
          return { banner: b.text, displayed: await displayedMessageIds(tab.id) };
        }
        await sleep(250);
      }
      throw new Error('the verdict banner did not appear');
    }
  }
}

export async function startDriver(): Promise<void> {
  let plan: Plan;
  try {
    const r = await fetch(m.runtime.getURL('test-plan.json'));
    plan = (await r.json()) as Plan;
  } catch {
    return;
  }
  reportUrl = plan.reportUrl;
  await report('hello', await summary());
  for (const [i, step] of plan.steps.entries()) {
    try {
      await report('step', { i, op: step.op, result: await run(step) });
    } catch (e) {
      await report('step', { i, op: step.op, error: e instanceof Error ? e.message : String(e) });
    }
  }
  await report('done');
}
