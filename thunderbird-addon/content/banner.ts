// The verdict banner, injected into the message pane of every displayed message. It
// asks the background for verdicts on this message's .seal attachments and offers the
// decrypted files only when they were fully verified.
import type { VerdictView } from '../lib/display-logic.js';

interface Api {
  runtime: { sendMessage(m: unknown): Promise<{ ok: boolean; r?: unknown; error?: string }> };
  i18n: { getMessage(k: string, s?: string | string[]): string };
}
const api = ((globalThis as unknown as { messenger?: Api; browser?: Api }).messenger ?? (globalThis as unknown as { browser: Api }).browser)!;
const t = (k: string, s?: string | string[]): string => api.i18n.getMessage(k, s) || k;

function line(v: VerdictView): { cls: string; text: string } {
  const by = v.sealedBy ?? '';
  switch (v.kind) {
    case 'certified':
      return { cls: 'ok', text: `${v.attachment}: ${t('bannerCertified', `${v.origin === 'card' ? t('bannerByCard') : t('bannerByBuild')} — ${by}`)}` };
    case 'refused':
      return { cls: 'bad', text: `${v.attachment}: ${t('bannerRefused', v.reason)}` };
    case 'tampered':
      return { cls: 'bad', text: `${v.attachment}: ${t('bannerTampered', v.reason)}` };
    case 'damaged':
      return { cls: 'bad', text: `${v.attachment}: ${t('bannerDamaged', v.reason)}` };
    case 'not-for-us':
      return { cls: 'warn', text: `${v.attachment}: ${t('bannerNotForUs', by || v.reason)}` };
    case 'locked':
      return { cls: 'warn', text: `${v.attachment}: ${t('bannerLocked', by || v.reason)}` };
    default:
      return { cls: 'bad', text: `${v.attachment}: ${t('bannerError', v.reason)}` };
  }
}

function button(label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

async function save(messageId: number, partName: string): Promise<void> {
  const r = await api.runtime.sendMessage({ type: 'file', messageId, partName });
  const f = r.ok ? (r.r as File | null) : null;
  if (!f) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(f);
  a.download = f.name;
  document.body.append(a);
  a.click();
  a.remove();
}

async function main(): Promise<void> {
  const box = document.createElement('div');
  box.className = 'sealcode-banner';
  box.textContent = t('bannerWorking');
  const r = await api.runtime.sendMessage({ type: 'banner' });
  const list = r.ok ? (r.r as { messageId: number; verdicts: VerdictView[] }[]) : [];
  if (!r.ok) {
    box.textContent = t('bannerError', r.error ?? '');
    document.body.prepend(box);
    return;
  }
  const views = list.flatMap((x) => x.verdicts.map((v) => ({ messageId: x.messageId, v })));
  if (!views.length) return;
  box.textContent = '';
  for (const { messageId, v } of views) {
    const l = line(v);
    const row = document.createElement('div');
    row.className = `sealcode-row sealcode-${l.cls}`;
    const span = document.createElement('span');
    span.textContent = l.text;
    row.append(span);
    if (v.kind === 'certified' && v.partName !== undefined) {
      const part = v.partName;
      row.append(
        button(t('buttonOpen'), () => void api.runtime.sendMessage({ type: 'open', messageId, partName: part })),
        button(t('buttonSave'), () => void save(messageId, part)),
      );
    }
    box.append(row);
  }
  document.body.prepend(box);
  await api.runtime.sendMessage({ type: 'bannerShown', messageId: views[0]!.messageId, text: box.innerText || box.textContent });
}

void main();
