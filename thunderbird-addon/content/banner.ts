// The verdict banner, injected into the message pane of every displayed message. It
// asks the background for verdicts on this message's .seal attachments and offers the
// decrypted files only when they were fully verified.
import type { VerdictView } from '../lib/display-logic.js';
import { verdictText } from '../lib/verdict-text.js';

declare const __TEST__: boolean;

interface Api {
  runtime: { sendMessage(m: unknown): Promise<{ ok: boolean; r?: unknown; error?: string }> };
  i18n: { getMessage(k: string, s?: string | string[]): string };
}
const api = ((globalThis as unknown as { messenger?: Api; browser?: Api }).messenger ?? (globalThis as unknown as { browser: Api }).browser)!;
const t = (k: string, s?: string | string[]): string => api.i18n.getMessage(k, s) || k;

/** One verdict as people read it: title, one sentence, the technical detail folded away. */
function row(v: VerdictView): { cls: string; node: HTMLElement } {
  const x = verdictText(
    {
      kind: v.kind,
      file: v.attachment.replace(/\.seal$/i, ''),
      sender: v.sender,
      origin: v.originFacts,
      originCertified: v.originCertified,
      code: v.code,
      recipients: v.recipients,
      self: v.self,
      reason: v.reason,
    },
    t,
  );
  const text = document.createElement('span');
  const title = document.createElement('strong');
  title.textContent = x.title;
  const body = document.createElement('span');
  body.className = 'sealcode-body';
  body.textContent = ` ${x.body}`;
  text.append(title, body);
  if (v.sender) {
    const from = document.createElement('span');
    from.className = 'sealcode-from';
    from.textContent = t('bannerFrom', v.sender);
    text.append(from);
  }
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = t('buttonDetails');
  details.append(summary);
  for (const d of x.details) {
    const p = document.createElement('div');
    p.textContent = d;
    details.append(p);
  }
  text.append(details);
  return { cls: x.tone, node: text };
}

function button(label: string, role: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.textContent = label;
  b.dataset.role = role;
  b.addEventListener('click', onClick);
  return b;
}

async function main(): Promise<void> {
  const box = document.createElement('div');
  box.className = 'sealcode-banner';
  box.textContent = t('bannerWorking');
  const r = await api.runtime.sendMessage({ type: 'banner' });
  const list = r.ok ? (r.r as { messageId: number; verdicts: VerdictView[] }[]) : [];
  if (!r.ok) {
    box.textContent = t('bannerFailed', r.error ?? '');
    document.body.prepend(box);
    return;
  }
  const views = list.flatMap((x) => x.verdicts.map((v) => ({ messageId: x.messageId, v })));
  if (!views.length) return;
  box.textContent = '';
  for (const { messageId, v } of views) {
    const l = row(v);
    const line = document.createElement('div');
    line.className = `sealcode-row sealcode-${l.cls}`;
    line.dataset.kind = v.kind;
    line.append(l.node);
    if (v.kind === 'certified' && v.partName !== undefined) {
      const part = v.partName;
      line.append(
        button(t('buttonOpen'), 'open', () => void api.runtime.sendMessage({ type: 'open', messageId, partName: part })),
        button(t('buttonSave'), 'save', () => void api.runtime.sendMessage({ type: 'save', messageId, partName: part })),
      );
    }
    if (v.kind === 'locked' || v.kind === 'never-unlocked')
      line.append(button(t('buttonUnlock'), 'unlock', () => void api.runtime.sendMessage({ type: 'openOptions' })));
    if (v.kind === 'needs-code') line.append(button(t('buttonEnterCode'), 'enter-code', () => void api.runtime.sendMessage({ type: 'openFirstStart' })));
    box.append(line);
  }
  document.body.prepend(box);
  await api.runtime.sendMessage({ type: 'bannerShown', messageId: views[0]!.messageId, text: box.innerText || box.textContent });
  if (__TEST__) await pressIfAsked();
}

void main();

// Test builds only: the driver asks the next banner to press one of its buttons (tests/addon).
async function pressIfAsked(): Promise<void> {
  const r = await api.runtime.sendMessage({ type: 'takePress' });
  const role = r.ok ? (r.r as string | null) : null;
  if (role) document.querySelector<HTMLButtonElement>(`.sealcode-banner button[data-role="${role}"]`)?.click();
}
