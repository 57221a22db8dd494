// Test builds only (tests/addon/keys.test.ts): the steps of keys-plan.json, for the pages
// that hold keys: the first-start page of a blind code's build and the card unlock (PIN
// or passphrase) in the options page. Each step fills the real page as a person would and
// submits its form; any other op is one of test-driver.ts's.
import { messenger } from '../lib/messenger.js';
import { runPlan, sleep, type Reporter } from './plan-runner.js';
import { summary } from './display.js';
import { handleMessage, pages } from './main.js';
import { COMPLETION_KEY, FIRST_START_PAGE } from './first-start.js';
import { pressInBanner, runDriverStep } from './test-driver.js';

type Step =
  | { op: 'firstStartPage'; screenshot?: string }
  | { op: 'giveCode'; code: string; screenshot?: string }
  | { op: 'unlockPage'; secret: string; screenshot?: string }
  | { op: 'narrowPage'; page: string; width: number; screenshot?: string }
  | { op: 'pressBanner'; subject: string; role: string }
  | { op: 'optionsTab' }
  | { op: 'storage' }
  | { op: 'views' };

const m = messenger();

/** The open extension page whose path ends so, once it shows `selector`. */
async function view(pathEnd: string, selector: string, tries = 80): Promise<Window> {
  for (let i = 0; i < tries; i++) {
    const v = m.extension.getViews().find((w) => w.location.pathname.endsWith(pathEnd) && w.document.querySelector(selector));
    if (v) return v;
    await sleep(250);
  }
  throw new Error(`no ${pathEnd} page showing ${selector}`);
}

const openView = (pathEnd: string): Window | undefined => m.extension.getViews().find((w) => w.location.pathname.endsWith(pathEnd));

/** Waits for the page to report itself (pageShown) after `act`. */
async function afterReport(page: string | string[], act: () => void): Promise<{ page: string; text: string }> {
  const names = Array.isArray(page) ? page : [page];
  const seen = pages.length;
  act();
  for (let i = 0; i < 120; i++) {
    const p = pages.slice(seen).find((x) => names.includes(x.page));
    if (p) return p;
    await sleep(250);
  }
  throw new Error(`the ${names.join('/')} page did not report`);
}

const shot = async (r: Reporter, name: string | undefined): Promise<void> => {
  if (!name) return;
  await sleep(1500);
  await r.acknowledged('screenshot', name, { name }, 120);
};

const storageText = async (): Promise<string> => JSON.stringify(await m.storage.local.get(null));

async function run(step: Step, r: Reporter): Promise<unknown> {
  switch (step.op) {
    case 'firstStartPage': {
      // Opened by the add-on itself on install: nothing in the plan opens it.
      const v = await view(`/${FIRST_START_PAGE}`, '#code', 120);
      await sleep(500);
      await shot(r, step.screenshot);
      return { text: v.document.body.innerText, opened: m.extension.getViews().filter((w) => w.location.pathname.endsWith(`/${FIRST_START_PAGE}`)).length };
    }
    case 'giveCode': {
      // Closed by an earlier step: reopened the way the banner's "Enter code" button does.
      if (!openView(`/${FIRST_START_PAGE}`)) await handleMessage({ type: 'openFirstStart' }, {});
      const v = await view(`/${FIRST_START_PAGE}`, 'body[data-shown] #code');
      const d = v.document;
      const input = d.querySelector<HTMLInputElement>('#code')!;
      const p = await afterReport('first-start', () => {
        input.value = step.code;
        d.querySelector<HTMLFormElement>('#form')!.requestSubmit();
      });
      // A compose window an earlier (refused) send left open would hide the page.
      if (step.screenshot) for (const t of await m.tabs.query({})) if (t.type === 'messageCompose') await m.tabs.remove(t.id).catch(() => undefined);
      await shot(r, step.screenshot);
      return {
        text: p.text,
        err: d.getElementById('err')!.textContent,
        done: d.getElementById('done')!.textContent,
        invalid: input.getAttribute('aria-invalid'),
        stored: (await m.storage.local.get(COMPLETION_KEY))[COMPLETION_KEY] ?? null,
        storage: await storageText(),
      };
    }
    case 'pressBanner':
      return pressInBanner(step.subject, step.role);
    case 'optionsTab': {
      // The options page in a tab of its own, read and closed again.
      let tabId: number | undefined;
      const p = await afterReport('options', () => {
        void m.tabs.create({ url: m.runtime.getURL('pages/options.html') }).then((t) => (tabId = (t as { id: number }).id));
      });
      if (tabId !== undefined) await m.tabs.remove(tabId).catch(() => undefined);
      return p;
    }
    case 'storage':
      return storageText();
    case 'views':
      // The add-on's pages open now (the background page itself included).
      return m.extension.getViews().map((w) => w.location.pathname);
    case 'unlockPage': {
      // The options page's own unlock form: the label the host's card kind chose, the secret typed, submitted.
      // The options page in a tab of its own (Thunderbird's add-on manager shows the same page inline).
      if (!openView('/pages/options.html')?.document.querySelector('#pass')) await m.tabs.create({ url: m.runtime.getURL('pages/options.html') });
      const v = await view('/pages/options.html', 'body[data-shown] #pass');
      const d = v.document;
      const label = d.querySelector<HTMLLabelElement>('label[for="pass"]')!.textContent;
      const p = await afterReport(['options', 'options-error'], () => {
        d.querySelector<HTMLInputElement>('#pass')!.value = step.secret;
        d.querySelector<HTMLFormElement>('form')!.requestSubmit();
      });
      await shot(r, step.screenshot);
      return { label, outcome: p.page, text: p.text, err: p.page === 'options-error' ? d.getElementById('err')!.textContent : '' };
    }
    case 'narrowPage': {
      // The page in a window of a phone's width: nothing wider than the window, and axe-core's verdict.
      const w = await m.windows.create({ url: m.runtime.getURL(step.page), type: 'popup', width: step.width, height: 700 });
      try {
        let v: Window | undefined;
        for (let i = 0; i < 80 && !v; i++) {
          v = m.extension.getViews({ windowId: w.id }).find((x) => x.document.querySelector('main, #root'));
          if (!v) await sleep(250);
        }
        if (!v) throw new Error(`${step.page} did not show in a window of its own`);
        await sleep(1000);
        const d = v.document;
        const s = d.createElement('script');
        s.src = m.runtime.getURL('axe.min.js');
        await new Promise((res, rej) => {
          s.onload = res;
          s.onerror = rej;
          d.head.append(s);
        });
        const axe = (v as unknown as { axe: { run(c: unknown): Promise<{ violations: { id: string; impact: string | null; help: string }[] }> } }).axe;
        const res = await axe.run(d);
        await shot(r, step.screenshot);
        return {
          innerWidth: v.innerWidth,
          scrollWidth: d.documentElement.scrollWidth,
          violations: res.violations.map((x) => ({ id: x.id, impact: x.impact, help: x.help })),
        };
      } finally {
        await m.windows.remove(w.id).catch(() => undefined);
      }
    }
    default:
      return runDriverStep(step, r);
  }
}

export const startKeysDriver = (): Promise<void> => runPlan('keys-plan.json', summary, run as (s: { op: string }, r: Reporter) => Promise<unknown>);
