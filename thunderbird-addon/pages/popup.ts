// The compose action: whom to seal this message for. Purchaser: a code serial or an ID
// per recipient address, remembered for next time. Dedicated: its one party.
import type { HostCode } from '../../card/host-protocol.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { emailOf } from '../lib/bytes.js';
import { api, ask, el, showError, t } from './ui.js';

const root = document.getElementById('root')!;

async function main(): Promise<void> {
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  if (!tab) return;
  const s = await ask<Record<string, unknown>>({ type: 'summary' });
  const current = await ask<boolean | null>({ type: 'getSeal', tabId: tab.id });
  const toggle = el('input', { type: 'checkbox', checked: current ?? true });
  // What the box shows is what happens on send: opening the popup states the intent.
  await ask({ type: 'setSeal', tabId: tab.id, enabled: toggle.checked });
  toggle.addEventListener('change', () => void ask({ type: 'setSeal', tabId: tab.id, enabled: toggle.checked }).catch(showError));
  root.append(el('label', {}, toggle, ' ', t('popupSealToggle')));
  if (s.flavour === 'dedicated') {
    const p = s.purchaser as { name: string } | undefined;
    root.append(el('p', {}, p ? t('popupDedicatedParty', [p.name, String(s.serial)]) : t('optionsNotStamped')));
    return;
  }
  const d = await api.compose.getComposeDetails(tab.id);
  const addrs = [...(d.to ?? []), ...(d.cc ?? []), ...(d.bcc ?? [])].filter((x): x is string => typeof x === 'string').map(emailOf);
  if (!addrs.length) {
    root.append(el('p', {}, t('popupNoRecipients')));
    return;
  }
  const remembered = await ask<Record<string, RecipientSpec>>({ type: 'recipients' });
  let codes: HostCode[] = [];
  try {
    codes = (await ask<{ codes: HostCode[] }>({ type: 'codes' })).codes;
  } catch {
    root.append(el('p', { className: 'muted' }, t('popupLocked')));
  }
  const list = el('datalist', { id: 'codes' }, ...codes.map((c) => el('option', { value: c.serial, label: `${c.serial} (${c.state})` })));
  root.append(list, el('p', {}, t('popupSealFor')));
  for (const a of new Set(addrs)) {
    const spec = remembered[a];
    const input = el('input', { value: spec ? (spec.kind === 'id' ? `id:${spec.label}` : spec.label) : '', placeholder: t('popupChooseCode') });
    input.setAttribute('list', 'codes');
    input.addEventListener('change', () => {
      const v = input.value.trim();
      const next: RecipientSpec | null = !v ? null : v.startsWith('id:') ? { kind: 'id', label: v.slice(3) } : { kind: 'code', label: v.toUpperCase() };
      void ask({ type: 'remember', address: a, spec: next }).catch(showError);
    });
    root.append(el('label', {}, `${a} `, input));
  }
}

main().catch(showError);
