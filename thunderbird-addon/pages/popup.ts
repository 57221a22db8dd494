// The compose action: whom to seal this message for. Purchaser: per recipient address a
// code serial, an ID, the card's group, a pair key or signature-only, remembered for next
// time (a code chosen is written back to the card file as given). Dedicated: its one party.
import type { HostCode, HostPair } from '../../card/host-protocol.js';
import { emailOf } from '../lib/bytes.js';
import { choiceText, parseChoice, type Choice } from '../lib/plan.js';
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
  const remembered = await ask<Record<string, Choice>>({ type: 'recipients' });
  let card: { codes: HostCode[]; groupId?: string; pairs?: HostPair[] } = { codes: [] };
  try {
    card = await ask<typeof card>({ type: 'codes' });
  } catch {
    root.append(el('p', { className: 'muted' }, t('popupLocked')));
  }
  const options = [
    ...card.codes.map((c) => el('option', { value: c.serial, label: `${c.serial} (${c.state}${c.givenTo ? ` — ${c.givenTo}` : ''})` })),
    el('option', { value: 'group', label: t('popupGroup') }),
    ...(card.pairs ?? []).map((p) => el('option', { value: `pair:${p.pairId}`, label: t('popupPair', p.peerCardId) })),
    el('option', { value: 'sign-only', label: t('popupSignOnly') }),
  ];
  root.append(el('datalist', { id: 'choices' }, ...options), el('p', {}, t('popupSealFor')));
  const facts = { groupId: card.groupId, pairs: card.pairs?.map((p) => p.pairId) };
  for (const a of new Set(addrs)) {
    const spec = remembered[a];
    const input = el('input', { value: spec ? choiceText(spec) : '', placeholder: t('popupChooseCode'), name: a });
    input.setAttribute('list', 'choices');
    input.addEventListener('change', () => {
      let next: Choice | null;
      try {
        next = parseChoice(input.value, facts);
      } catch (e) {
        showError(e);
        return;
      }
      void ask<{ cardError?: string }>({ type: 'remember', address: a, spec: next })
        .then((r) => {
          if (r.cardError) showError(new Error(t('popupCardNotUpdated', r.cardError)));
          void ask({ type: 'pageShown', page: 'popup-remembered', text: `${a} ${input.value}` });
        })
        .catch(showError);
    });
    root.append(el('label', {}, `${a} `, input));
  }
}

main().catch(showError);
