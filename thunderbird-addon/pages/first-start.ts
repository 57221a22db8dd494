// The first start of a blind code's dedicated build: asks for the whole code once and
// hands it to the background (background/first-start.ts), which checks it and keeps only
// the key made from it. Nothing here talks to any server.
import { ask, showError } from './ui.js';

const form = document.getElementById('form') as HTMLFormElement;
const input = document.getElementById('code') as HTMLInputElement;
const done = document.getElementById('done')!;
const who = document.getElementById('who')!;

function report(): void {
  // Lets the background (and the test driver) know what the page shows now; `data-shown`
  // marks the report as delivered (see options.ts).
  void ask({ type: 'pageShown', page: 'first-start', text: document.body.innerText })
    .catch(() => undefined)
    .then(() => (document.body.dataset.shown = 'true'));
}

function finished(text: string): void {
  form.hidden = true;
  done.textContent = text;
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  document.getElementById('err')!.textContent = '';
  input.removeAttribute('aria-invalid');
  ask({ type: 'giveCode', code: input.value })
    .then(() => {
      input.value = '';
      finished('Done: this add-on can now seal and open mail. You can close this tab.');
    })
    .catch((e: unknown) => {
      input.setAttribute('aria-invalid', 'true');
      showError(e);
      input.focus();
    })
    .finally(report);
});

(async () => {
  const s = await ask<Record<string, unknown>>({ type: 'summary' });
  if (s.flavour !== 'dedicated' || !s.stamped) return finished('This sealcode add-on needs no code.');
  const p = s.purchaser as { name: string; email: string };
  who.textContent = `This add-on was made for ${String(s.redeemer)}, from a code ${p.name} <${p.email}> handed over (serial ${String(s.serial)}).`;
  if (!s.needsCode) finished('This add-on already has your whole code: nothing more to do.');
})()
  .catch(showError)
  .finally(report);
