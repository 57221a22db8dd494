// What the two test drivers share (test builds only, never shipped): the plan bundled
// with the build, the report server each step's outcome goes to, the acknowledgements a
// step waits for while the test does something outside Thunderbird (a screenshot, a host
// install), and the IMAP inbox the test account's mail arrives in.
import { messenger } from '../lib/messenger.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Reporter {
  constructor(private readonly url: string) {}

  async send(event: string, data: unknown = {}): Promise<void> {
    await fetch(this.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ event, data }) }).catch(() => undefined);
  }

  /** Sends `kind`, then polls GET /ack/KIND/NAME every 250 ms until the test answers; false after `tries`. */
  async acknowledged(kind: string, name: string, data: unknown, tries: number): Promise<boolean> {
    await this.send(kind, data);
    for (let k = 0; k < tries; k++) {
      if ((await fetch(`${this.url}/ack/${kind}/${name}`).catch(() => null))?.ok) return true;
      await sleep(250);
    }
    return false;
  }
}

/**
 * Runs the plan in `file` if this build carries one: hello, each step's result or error, done.
 * A plan of `runs` holds the steps of each launch of one profile; storage.local counts them.
 */
export async function runPlan<S extends { op: string }>(file: string, hello: () => Promise<unknown>, run: (step: S, r: Reporter) => Promise<unknown>): Promise<void> {
  let plan: { reportUrl: string; steps?: S[]; runs?: S[][] };
  try {
    plan = (await (await fetch(messenger().runtime.getURL(file))).json()) as typeof plan;
  } catch {
    return;
  }
  let steps = plan.steps ?? [];
  if (plan.runs) {
    const key = `testPlanLaunches:${file}`;
    const n = Number((await messenger().storage.local.get(key))[key] ?? 0);
    await messenger().storage.local.set({ [key]: n + 1 });
    steps = plan.runs[n] ?? [];
  }
  const r = new Reporter(plan.reportUrl);
  await r.send('hello', await hello());
  for (const [i, step] of steps.entries()) {
    try {
      await r.send('step', { i, op: step.op, result: await run(step, r) });
    } catch (e) {
      await r.send('step', { i, op: step.op, error: e instanceof Error ? e.message : String(e) });
    }
  }
  await r.send('done');
}

/** The IMAP account's inbox, once Thunderbird has set the account up. */
export async function imapInbox(): Promise<string> {
  const m = messenger();
  for (let i = 0; i < 120; i++) {
    const imap = (await m.accounts.list()).find((a) => a.type === 'imap');
    const f = imap ? await m.folders.query({ accountId: imap.id, specialUse: ['inbox'] }) : [];
    if (f[0]) return f[0].id;
    await sleep(500);
  }
  throw new Error('no IMAP inbox appeared');
}
