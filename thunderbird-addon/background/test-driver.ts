// Test builds only (tests/addon): runs the steps of test-plan.json, put into the XPI by
// the test, and POSTs results to the test's report server. Every action goes through the
// add-on's real code paths: sending uses compose.sendMessage, so the real onBeforeSend
// seals; judging uses verdictsFor, the function the banner calls, which reads the real
// messages.getAttachmentFile.
import { messenger } from '../lib/messenger.js';
import { imapInbox, runPlan, sleep, type Reporter } from './plan-runner.js';
import { displayedMessageIds, dropHeldFiles, heldFile, summary, verdictsFor } from './display.js';
import { banners, handleMessage, outcomes, pages, rememberRecipient, setTabSeal, testPress } from './main.js';
import { loadProfile, openingKeys } from './keys.js';
import { FLAVOUR } from './flavour.js';
import { dedicatedPlan } from '../lib/plan.js';
import { statusState } from './status.js';
import { sealFile } from '../lib/seal-files.js';
import { judge } from '../lib/display-logic.js';
import type { Choice } from '../lib/plan.js';
import { patternBytes } from '../lib/pattern.js';
import { SLICE, blobSource, streamToBlob } from '../lib/bytes.js';
import { owns, releasedSoFar, responseCopiesChunks } from '../lib/release.js';
import { webPrimitives } from '../../card/container/primitives.js';
import { addonPrimitives } from '../lib/primitives.js';
import { chunkNonce } from '../../card/container/aead.js';
import { probe, type Probe } from './mem-probe.js';

type Step =
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
  | { op: 'fetch'; subject: string }
  | { op: 'sendBig'; mb: number; to: string; subject: string; seal: boolean; timeoutS: number }
  | { op: 'bench'; mb: number }
  | { op: 'perf'; mb: number; sealed: string; settleMs?: number }
  | { op: 'probe'; kind: Probe; mb: number }
  | { op: 'sealOut'; from: string; to: string }
  | { op: 'unlock'; passphrase: string; minutes?: number }
  | { op: 'remember'; address: string; spec: Choice }
  | { op: 'display'; subject: string; screenshot?: string }
  | { op: 'openButton'; subject: string }
  | { op: 'syncCodes' }
  | { op: 'options' };

const m = messenger();
/** Hashed slice by slice: a 200 MB opened file must not be pulled into memory to be checked. */
async function sha256Hex(b: Blob): Promise<string> {
  const h = (await addonPrimitives()).sha256();
  const src = blobSource(b);
  const buf = new Uint8Array(SLICE);
  for (let n; (n = await src.read(buf)) > 0; ) h.update(buf.subarray(0, n));
  return Array.from(h.digest(), (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Random bytes written straight into a disk-backed File, as a picked attachment would be. */
async function randomFile(size: number, name: string): Promise<File> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let o = 0; o < size; o += SLICE) {
      // Owned: freed once written (lib/release.ts), so the bench's input leaves no garbage.
      const c = owns(new Uint8Array(Math.min(SLICE, size - o)));
      for (let k = 0; k < c.length; k += 65536) crypto.getRandomValues(c.subarray(k, k + 65536));
      yield c;
    }
  }
  return new File([await streamToBlob(chunks(), 'application/octet-stream')], name, { type: 'application/octet-stream' });
}

async function inboxMessages(): Promise<{ id: number; subject: string }[]> {
  const r = await m.messages.list(await imapInbox());
  return r.messages;
}

/** The mail tab, in front, showing the inbox; tabs earlier steps opened (options, files) closed. */
async function mailTab(): Promise<{ id: number }> {
  for (const t of await m.tabs.query({})) if (t.type && t.type !== 'mail') await m.tabs.remove(t.id).catch(() => undefined);
  const [tab] = await m.mailTabs.query({});
  if (!tab) throw new Error('no mail tab');
  await m.tabs.update(tab.id, { active: true }).catch(() => undefined);
  await m.mailTabs.update(tab.id, { displayedFolderId: await imapInbox() });
  return tab;
}

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
    case 'sendBig': {
      // A big picked file (disk-backed) through compose and Thunderbird's own SMTP send.
      const file = await randomFile(step.mb << 20, 'big.bin');
      const tab = await m.compose.beginNew(null, { to: [step.to], subject: step.subject, plainTextBody: 'a big file' });
      await setTabSeal(tab.id, step.seal);
      const t0 = Date.now();
      await m.compose.addAttachment(tab.id, { file, name: 'big.bin' });
      const t1 = Date.now();
      let sendError: string | null = null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          m.compose.sendMessage(tab.id, { mode: 'sendNow' }),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`sendMessage did not resolve in ${step.timeoutS} s`)), step.timeoutS * 1000))),
        ]);
      } catch (e) {
        sendError = e instanceof Error ? e.message : String(e);
      } finally {
        clearTimeout(timer);
      }
      return { size: file.size, addMs: t1 - t0, sendMs: Date.now() - t1, sendError, outcome: outcomes.filter((o) => o.tabId === tab.id).at(-1) ?? null };
    }
    case 'fetch': {
      // Times Thunderbird's own part of reading an attachment (no sealcode code involved).
      const msg = (await inboxMessages()).find((x) => x.subject === step.subject);
      if (!msg) throw new Error(`no message "${step.subject}"`);
      const t0 = performance.now();
      const atts = await m.messages.listAttachments(msg.id);
      const t1 = performance.now();
      const f = await m.messages.getAttachmentFile(msg.id, atts[0]!.partName!);
      const t2 = performance.now();
      const buf = await f.arrayBuffer();
      return { listMs: Math.round(t1 - t0), getFileMs: Math.round(t2 - t1), readMs: Math.round(performance.now() - t2), size: buf.byteLength };
    }
    case 'perf': {
      // The add-on's own seal and open of a big file, without Thunderbird's MIME work
      // around it: sealFile with this build's real plan (what onBeforeSend runs), and
      // judge (what the banner runs) on a container the test sealed with Alice's card.
      // Each phase is reported as it ends, so a memory sampler outside can tell them apart.
      // With settleMs, a pause after each phase lets the garbage collector catch up first,
      // so each phase's growth is its own and not what the one before left behind.
      const phase = async (name: string): Promise<void> => {
        await r.send('phase', { name, mb: step.mb });
        if (step.settleMs) await sleep(step.settleMs);
        await r.send('phase', { name: `${name}-settled`, mb: step.mb });
      };
      const size = step.mb << 20;
      const file = await randomFile(size, 'big.bin');
      await phase('input');
      const plan = dedicatedPlan(await loadProfile(), true);
      if (!plan) throw new Error('no plan');
      let t = performance.now();
      const sealedFile = await sealFile(file, 'big.bin', plan);
      const sealMs = Math.round(performance.now() - t);
      await phase('seal');
      // Inside the XPI, or (big ones, bench/addon.ts) from the test's loopback server.
      const blob = await (await fetch(/^http:\/\/127\.0\.0\.1[:/]/.test(step.sealed) ? step.sealed : m.runtime.getURL(step.sealed))).blob();
      await phase('fetch');
      const keys = await openingKeys(FLAVOUR);
      t = performance.now();
      const j = await judge(blob, step.sealed, { party: keys.party, issuerPub: keys.issuerPub! });
      const openMs = Math.round(performance.now() - t);
      await phase('open');
      const openedSha256 = j.content ? await sha256Hex(j.content) : null;
      await phase('check');
      return {
        freeing: await responseCopiesChunks(),
        released: releasedSoFar,
        size,
        sealMs,
        sealedSize: sealedFile.size,
        openMs,
        opened: j.view.kind,
        openedSize: j.content?.size ?? null,
        openedSha256,
      };
    }
    case 'probe': {
      const t0 = performance.now();
      const n = await probe(step.kind, step.mb);
      return { n, ms: Math.round(performance.now() - t0) };
    }
    case 'sealOut': {
      // A big attachment sealed by this build's real plan (the sealFile onBeforeSend runs),
      // handed to the test for delivery (thunderbird-large.test.ts measures opening; sending
      // through compose is send-big.test.ts).
      const plain = await (await fetch(step.from)).blob();
      const plan = dedicatedPlan(await loadProfile(), true);
      if (!plan) throw new Error('no plan');
      const startedAt = Date.now();
      const sealed = await sealFile(new File([plain], 'big.bin', { type: 'application/octet-stream' }), 'big.bin', plan);
      const sealedAt = Date.now();
      const up = await fetch(step.to, { method: 'POST', body: sealed });
      if (!up.ok) throw new Error(`upload refused: ${up.status}`);
      return { size: plain.size, sealedSize: sealed.size, startedAt, sealedAt };
    }
    case 'bench': {
      // Where time goes inside Thunderbird: the primitives the container uses, alone.
      const data = patternBytes(step.mb << 20, 9);
      let t = performance.now();
      const h = (await addonPrimitives()).sha256();
      for (let o = 0; o < data.length; o += 1 << 20) h.update(data.subarray(o, o + (1 << 20)));
      h.digest();
      const wasmSha = performance.now() - t;
      t = performance.now();
      await crypto.subtle.digest('SHA-256', data as BufferSource);
      const subtleSha = performance.now() - t;
      const c = await webPrimitives.cipher(new Uint8Array(32));
      t = performance.now();
      for (let o = 0, i = 0; o < data.length; o += 1 << 20, i++) await c.seal(chunkNonce(i, false), data.subarray(o, o + (1 << 20)));
      const aes = performance.now() - t;
      t = performance.now();
      let n = 0;
      const src = blobSource(new Blob([data as BlobPart]));
      const into = new Uint8Array(SLICE);
      for (let k; (k = await src.read(into)) > 0; ) n += k;
      const stream = performance.now() - t;
      t = performance.now();
      let acc = 0;
      for (let i = 0; i < 10_000_000; i++) acc = (acc + i * 31) | 0;
      const loop10M = performance.now() - t;
      const { newSigningKey, sign, verify } = await import('../../card/keys.js');
      t = performance.now();
      const kp = newSigningKey();
      const keygen = performance.now() - t;
      t = performance.now();
      const sig = sign(kp.secretKey, new Uint8Array(32));
      const edSign = performance.now() - t;
      t = performance.now();
      verify(kp.publicKey, new Uint8Array(32), sig);
      const edVerify = performance.now() - t;
      let subtleEd = 'no';
      try {
        const k = await crypto.subtle.importKey('raw', kp.publicKey as BufferSource, { name: 'Ed25519' }, false, ['verify']);
        t = performance.now();
        const ok = await crypto.subtle.verify({ name: 'Ed25519' }, k, sig as BufferSource, new Uint8Array(32));
        subtleEd = `${ok} ${performance.now() - t}`;
      } catch (e) {
        subtleEd = String(e);
      }
      return { keygen, edSign, edVerify, subtleEd, mb: step.mb, wasmSha, subtleSha, aes, stream, n, loop10M, acc, wasm: typeof WebAssembly };
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
  }
}

export const startDriver = (): Promise<void> => runPlan('test-plan.json', summary, run);
/** The steps above, for the other drivers that add their own (keys-test-driver.ts). */
export const runDriverStep = (step: { op: string }, r: Reporter): Promise<unknown> => run(step as Step, r);
