// Options: purchaser — the card connection and lock state, the code stock with the text
// to hand over and who got which code; dedicated — whom this build is for, its code and expiry.
import type { HostCode, HostInfo } from '../../card/host-protocol.js';
import type { Choice } from '../lib/plan.js';
import type { CodeSync } from '../background/code-sync.js';
import { ask, el, showError, t, table } from './ui.js';

const root = document.getElementById('root')!;

async function dedicated(s: Record<string, unknown>): Promise<void> {
  if (!s.stamped) {
    root.append(el('p', {}, t('optionsNotStamped')));
    return;
  }
  const p = s.purchaser as { name: string; email: string };
  if (s.needsCode) root.append(el('p', { className: 'err' }, t('optionsNeedsCode'), ' ', el('a', { href: 'first-start.html', textContent: t('buttonEnterCode') })));
  root.append(
    table(
      ['', ''],
      [
        [t('optionsBuildFor'), `${s.redeemer} — ${p.name} <${p.email}>`],
        [t('optionsSerial'), String(s.serial)],
        [t('optionsExpires'), new Date(Number(s.expires)).toISOString().slice(0, 10) + (s.expired ? ' (expired)' : '')],
        ['Build', String(s.buildId)],
      ],
    ),
  );
}

async function purchaser(): Promise<void> {
  const st = await ask<{ host: string; info?: HostInfo; error?: string }>({ type: 'hostState' });
  root.append(el('h2', {}, t('optionsCard')));
  if (st.host === 'missing') {
    root.append(el('p', { className: 'err' }, t('optionsHostMissing')), el('pre', {}, 'sealcode card host --install --card YOUR-CARD-FILE'), el('p', {}, t('optionsHostRestart')));
    return;
  }
  if (!st.info) {
    root.append(el('p', { className: 'err' }, t('optionsHostUnreachable', st.error ?? '')));
    return;
  }
  const info = st.info;
  const which = info.card ? `${info.card.name} <${info.card.email}> — ${info.card.cardId}` : info.tokenLabel ? t('optionsTokenCard', info.tokenLabel) : '';
  root.append(el('p', {}, ...(which ? [which, el('br')] : []), info.locked ? t('optionsLocked') : t('optionsUnlockedFor', String(Math.ceil(info.unlockedFor / 60)))));
  if (info.locked) {
    // A token card is unlocked with its token's PIN; the host says which kind this card is.
    const pin = info.secret === 'pin';
    const pass = el('input', { type: 'password', id: 'pass', autocomplete: 'off', required: true });
    const mins = el('input', { type: 'number', value: '15', min: '1', max: '1440', id: 'mins' });
    const go = el('button', { type: 'submit', textContent: t('optionsUnlock') });
    const form = el('form', {}, el('label', { htmlFor: 'pass' }, pin ? t('optionsPin', info.tokenLabel ?? '') : t('optionsPassphrase')), pass, el('label', { htmlFor: 'mins' }, t('optionsMinutes')), mins, go);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ask({ type: 'unlock', passphrase: pass.value, minutes: Number(mins.value) }).then(
        () => location.reload(),
        (e: unknown) => {
          pass.value = '';
          showError(e);
          void ask({ type: 'pageShown', page: 'options-error', text: document.body.innerText }).catch(() => undefined);
        },
      );
    });
    root.append(form);
    return;
  }
  const lock = el('button', { textContent: t('optionsLock') });
  lock.addEventListener('click', () => void ask({ type: 'lock' }).then(() => location.reload(), showError));
  root.append(lock);
  // A refresh from the distributor under way (started by the unlock) is waited for first.
  const synced = await ask<CodeSync | null>({ type: 'codeSync' });
  const { codes, distributorUrl } = await ask<{ codes: HostCode[]; distributorUrl?: string }>({ type: 'codes' });
  const given = await ask<Record<string, Choice>>({ type: 'recipients' });
  // The card file's own record first (written back by the host), then this profile's choices.
  const who = (c: HostCode): string =>
    c.givenTo ||
    Object.entries(given)
      .filter(([, s]) => s.kind === 'code' && s.label === c.serial)
      .map(([a]) => a)
      .join(', ');
  root.append(el('h2', {}, t('optionsCodes')));
  const when = (ms: number): string => new Date(ms).toLocaleString();
  if (synced?.ok) root.append(el('p', {}, t('optionsCodesSynced', [when(synced.at), String(synced.changed.length)])));
  else if (synced) root.append(el('p', { className: 'err' }, t('optionsCodesNotSynced', [synced.error, synced.lastAt ? when(synced.lastAt) : t('optionsNever')])));
  root.append(
    table(
      ['Serial', 'State', t('optionsGivenTo'), t('optionsHandOver')],
      codes.map((c) => [c.serial, c.state, who(c), el('code', {}, distributorUrl ? t('handOverText', [c.code, distributorUrl]) : t('handOverTextNoUrl', c.code))]),
    ),
  );
}

(async () => {
  const s = await ask<Record<string, unknown>>({ type: 'summary' });
  if (s.flavour === 'dedicated') await dedicated(s);
  else await purchaser();
})()
  .catch(showError)
  // Lets the background (and the test driver) know what the page showed; `data-shown` marks
  // that report as delivered, so a driver acting on the page never takes it for the answer
  // to its own action.
  .finally(() =>
    void ask({ type: 'pageShown', page: 'options', text: document.body.innerText })
      .catch(() => undefined)
      .then(() => (document.body.dataset.shown = 'true')),
  );
