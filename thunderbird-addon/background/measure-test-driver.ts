// Test builds only (tests/addon/send-big, thunderbird-large, bench/addon*.ts): the steps that
// measure, big files through compose and the add-on's own seal and open, timed and with
// phases a memory sampler outside can tell apart. Any other op is one of test-driver.ts's.
import { messenger } from '../lib/messenger.js';
import { sleep, type Reporter } from './plan-runner.js';
import { outcomes, setTabSeal } from './main.js';
import { loadProfile, openingKeys } from './keys.js';
import { FLAVOUR } from './flavour.js';
import { dedicatedPlan } from '../lib/plan.js';
import { sealFile } from '../lib/seal-files.js';
import { judge } from '../lib/display-logic.js';
import { patternBytes } from '../lib/pattern.js';
import { SLICE, blobSource } from '../lib/bytes.js';
import { releasedSoFar, responseCopiesChunks } from '../lib/release.js';
import { webPrimitives } from '../../card/container/primitives.js';
import { addonPrimitives } from '../lib/primitives.js';
import { chunkNonce } from '../../card/container/aead.js';
import { probe, type Probe } from './mem-probe.js';
import { inboxMessages, randomFile, sha256Hex } from './test-files.js';

export type MeasureStep =
  | { op: 'fetch'; subject: string }
  | { op: 'sendBig'; mb: number; to: string; subject: string; seal: boolean; timeoutS: number }
  | { op: 'bench'; mb: number }
  | { op: 'perf'; mb: number; sealed: string; settleMs?: number }
  | { op: 'probe'; kind: Probe; mb: number }
  | { op: 'sealOut'; from: string; to: string };

const m = messenger();

export async function runMeasureStep(step: MeasureStep, r: Reporter): Promise<unknown> {
  switch (step.op) {
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
  }
}
