// Test builds only (tests/addon/game.test.ts): runs the steps of game-plan.json and
// reports to the test's server, with the events tests/addon/support/run-thunderbird.ts
// follows. Displaying goes through the real message pane script; playing picks the move
// in the pane and clicks its button, then sends the composed reply (compose.sendMessage).
import { messenger } from '../lib/messenger.js';
import { imapInbox, runPlan, sleep, type Reporter } from './plan-runner.js';
import { summary } from './display.js';
import { composedReplies, gameViews, paneReports } from './game.js';
import { unlockCard } from './keys.js';

type Step =
  | { op: 'unlock'; passphrase: string }
  | { op: 'waitInbox'; count: number }
  | { op: 'display'; subject: string; screenshot?: string }
  | { op: 'play'; subject: string; san: string };

const m = messenger();
/** MV3 mail tabs carry `tabId`; the slice of the API in lib/messenger.ts calls it `id`. */
const mailTabId = (t: { id: number } | undefined): number => {
  const id = (t as { tabId?: number } | undefined)?.tabId ?? t?.id;
  if (id === undefined) throw new Error('no mail tab');
  return id;
};

const messages = async (): Promise<{ id: number; subject: string }[]> => (await m.messages.list(await imapInbox())).messages;

async function bySubject(subject: string): Promise<number> {
  const msg = (await messages()).find((x) => x.subject === subject);
  if (!msg) throw new Error(`no message "${subject}"`);
  return msg.id;
}

async function run(step: Step, r: Reporter): Promise<unknown> {
  switch (step.op) {
    case 'unlock':
      return unlockCard(step.passphrase, 10);
    case 'waitInbox':
      for (let i = 0; i < 120; i++) {
        const list = await messages();
        if (list.length >= step.count) return list.map((x) => x.subject);
        await sleep(500);
      }
      throw new Error(`inbox did not reach ${step.count} messages`);
    case 'display': {
      const id = await bySubject(step.subject);
      const tabId = mailTabId((await m.mailTabs.query({}))[0]);
      await m.mailTabs.update(tabId, { displayedFolderId: await imapInbox() });
      // Cleared first, so that a message shown before is shown (and judged) again.
      await m.mailTabs.setSelectedMessages(tabId, []);
      const seen = paneReports.length;
      await m.mailTabs.setSelectedMessages(tabId, [id]);
      for (let i = 0; i < 160; i++) {
        const shown = paneReports.slice(seen).find((x) => x.messageId === id);
        if (shown) {
          if (step.screenshot) {
            await sleep(1500);
            await r.acknowledged('screenshot', step.screenshot, { name: step.screenshot }, 120);
          }
          return shown;
        }
        await sleep(250);
      }
      throw new Error('the game pane did not appear');
    }
    case 'play': {
      // Through the pane: the displayed message's reply form is filled in and submitted.
      const id = await bySubject(step.subject);
      const view = (await gameViews(id))[0];
      if (!view) throw new Error('no game move in that message');
      const [tab] = await m.mailTabs.query({});
      const seen = composedReplies.length;
      const tabs = m.tabs as unknown as { sendMessage(tabId: number, msg: unknown): Promise<unknown> };
      const said = await Promise.race([
        tabs.sendMessage(mailTabId(tab), { sealcodeGamePick: step.san, partName: view.partName }),
        sleep(60_000).then(() => 'no answer from the pane in 60 s'),
      ]);
      const composed = composedReplies.at(-1);
      if (!composed || composedReplies.length === seen) throw new Error(`no reply was composed; the pane said: ${JSON.stringify(said)}`);
      const atts = await m.compose.listAttachments(composed.tabId);
      let sendError: string | null = null;
      try {
        await m.compose.sendMessage(composed.tabId, { mode: 'sendNow' });
      } catch (e) {
        sendError = e instanceof Error ? e.message : String(e);
      }
      return { composed, pane: said, attachments: atts.map((a) => a.name), sendError, after: (await gameViews(id))[0] };
    }
  }
}

export const startGameDriver = (): Promise<void> => runPlan('game-plan.json', summary, run);
