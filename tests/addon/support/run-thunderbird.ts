// One Thunderbird run with a test add-on: profile, launch, follow the driver's reports
// until it says done, stop. Each run gets its own report server.
import fs from 'node:fs';
import path from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { createProfile, launchThunderbird, type ProfileOptions } from '../../support/thunderbird.js';
import { startReportServer, type ReportServer } from '../../support/report-server.js';

/**
 * Prefs for a run whose driver waits minutes with nothing else going on (a big send, a pause
 * for memory to settle): Thunderbird suspends an event page after 30 s idle, and a fetch
 * does not count as activity, so the driver would be suspended mid-plan.
 */
export const KEEP_AWAKE = { 'extensions.background.idle.timeout': 900_000 };

export interface StepReport {
  i: number;
  op: string;
  result?: any;
  error?: string;
}

export interface RunResult {
  hello: any;
  steps: StepReport[];
  seconds: number;
  log: string;
}

export async function withReportServer<T>(f: (rs: ReportServer) => Promise<T>): Promise<T> {
  const rs = await startReportServer();
  try {
    return await f(rs);
  } finally {
    await rs.stop();
  }
}

export async function runThunderbird(o: {
  rs: ReportServer;
  profile: Omit<ProfileOptions, 'addons'>;
  xpi: string;
  headless?: boolean;
  /** Screenshot name (as the driver's display step names it) → PNG file. */
  screenshots?: Record<string, string>;
  timeoutMs?: number;
  /** Runs after the profile exists and before launch (e.g. installing the native host into its HOME). */
  prepare?: (home: string) => Promise<void>;
  /** Launch the profile of an earlier run again, as it is (a different add-on file replaces the one there: an update). */
  relaunch?: boolean;
  /** Answers the driver's `ask` steps by name, while Thunderbird runs. */
  answers?: Record<string, (home: string) => Promise<void>>;
}): Promise<RunResult> {
  const t0 = Date.now();
  // A relaunch keeps the profile as Thunderbird left it (prefs.js holds the add-on's storage UUID).
  const profile = o.relaunch
    ? { dir: o.profile.dir }
    : await createProfile({
        ...o.profile,
        prefs: { 'mail.identity.id1.fcc': false, ...(o.profile.prefs ?? {}) },
      });
  // Side-loaded by hand: the id is read here with fflate rather than an unzip child.
  const manifest = JSON.parse(strFromU8(unzipSync(new Uint8Array(fs.readFileSync(o.xpi)), { filter: (f) => f.name === 'manifest.json' })['manifest.json']!));
  const installed = path.join(profile.dir, 'extensions', `${manifest.browser_specific_settings.gecko.id}.xpi`);
  // The same build launched again is left as it is: a copy would be an update at start-up.
  if (!(o.relaunch && fs.existsSync(installed) && fs.readFileSync(installed).equals(fs.readFileSync(o.xpi)))) fs.copyFileSync(o.xpi, installed);
  const home = path.join(profile.dir, '.home');
  fs.mkdirSync(home, { recursive: true });
  await o.prepare?.(home);
  const tb = await launchThunderbird(profile.dir, { headless: o.headless ?? true, env: { HOME: home } });
  try {
    const hello = await o.rs.waitFor((b) => b?.event === 'hello', 60_000);
    const shot = async (name: string): Promise<void> => {
      const file = o.screenshots?.[name];
      try {
        if (file) await tb.screenshot(file);
      } finally {
        o.rs.reply(`/ack/screenshot/${name}`, true);
      }
    };
    const answer = async (name: string): Promise<void> => {
      const f = o.answers?.[name];
      if (!f) throw new Error(`the driver asked for "${name}", which this test does not answer`);
      await f(home);
      o.rs.reply(`/ack/ask/${name}`, true);
    };
    let handled = 0;
    let asked = 0;
    const failures: Error[] = [];
    const timer = setInterval(() => {
      const shots = o.rs.reports.filter((r) => r.body?.event === 'screenshot');
      for (; handled < shots.length; handled++) void shot(String(shots[handled]!.body.data.name));
      const asks = o.rs.reports.filter((r) => r.body?.event === 'ask');
      for (; asked < asks.length; asked++) void answer(String(asks[asked]!.body.data.name)).catch((e: Error) => failures.push(e));
    }, 200);
    try {
      await o.rs.waitFor((b) => b?.event === 'done', o.timeoutMs ?? 150_000);
    } finally {
      clearInterval(timer);
    }
    if (failures.length) throw failures[0]!;
    await addonStateWritten(profile.dir, manifest.browser_specific_settings.gecko.id);
    const steps = o.rs.reports.filter((r) => r.body?.event === 'step').map((r) => r.body.data as StepReport);
    return { hello: hello.data, steps, seconds: (Date.now() - t0) / 1000, log: tb.tail(60) };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- thunderbird ---\n${tb.tail(60)}`);
  } finally {
    await tb.stop();
  }
}

/**
 * Waits until Thunderbird has written down the add-on it installed (extensions.json and
 * addonStartup.json.lz4, each saved a moment after start-up). Stopped before that, the
 * next launch of the profile finds the add-on unrecorded and installs it again during
 * start-up, where Thunderbird 153 now and then hung before any add-on ran (seen with
 * a run of ~2 s: written 200 ms after its plan was done).
 */
async function addonStateWritten(dir: string, id: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  const written = (): boolean => {
    try {
      return fs.readFileSync(path.join(dir, 'extensions.json'), 'utf8').includes(`"${id}"`) && fs.statSync(path.join(dir, 'addonStartup.json.lz4')).size > 0;
    } catch {
      return false;
    }
  };
  while (!written() && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 200));
}

/** The result of step `op` (the n-th of that op), failing loudly on a driver error. */
export function stepResult(r: RunResult, op: string, n = 0): any {
  const s = r.steps.filter((x) => x.op === op)[n];
  if (!s) throw new Error(`no ${op} step reported; got ${JSON.stringify(r.steps).slice(0, 2000)}`);
  if (s.error) throw new Error(`driver step ${op} failed: ${s.error}\n${r.log}`);
  return s.result;
}
