/**
 * A real Thunderbird for end-to-end tests: build a profile, side-load add-ons, launch headless.
 *
 *   const profile = await createProfile({
 *     dir, imap: { host, port, user, pass }, smtp: { host, port },
 *     identity: { name: 'Alice', email: 'alice@example.test' }, addons: [xpiPath],
 *   });
 *   const tb = await launchThunderbird(profile.dir);
 *   ... the add-on reports to a report server (see report-server.ts) ...
 *   await tb.stop();
 *
 * Facts behind this: /work/shared/recipes/thunderbird-headless.md.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const THUNDERBIRD_BIN = process.env.SEALCODE_THUNDERBIRD ?? '/usr/bin/thunderbird';
/** Folder of Thunderbird's bundled NSS (used to encrypt stored passwords). */
export const THUNDERBIRD_LIB_DIR = process.env.SEALCODE_THUNDERBIRD_LIB ?? '/usr/lib/thunderbird';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TB_LOGINS_SCRIPT = path.join(REPO_ROOT, 'scripts', 'tb-logins.py');

export type PrefValue = string | number | boolean;

export interface ProfileOptions {
  /** Profile folder (created if missing; should be empty). */
  dir: string;
  imap?: { host: string; port: number; user: string; pass: string };
  /** SMTP server; with user/pass it uses AUTH (password stored in logins.json), else no auth. */
  smtp?: { host: string; port: number; user?: string; pass?: string };
  /** Identity of the IMAP account; default name = email = imap.user. */
  identity?: { name: string; email: string };
  /** XPI files to side-load (installed as extensions/<gecko id>.xpi). */
  addons?: string[];
  /** Extra prefs; they override the defaults below. */
  prefs?: Record<string, PrefValue>;
}

export interface Profile {
  dir: string;
  /** Gecko ids of the side-loaded add-ons, in `addons` order. */
  addonIds: string[];
  /** Every pref written to prefs.js and user.js. */
  prefs: Record<string, PrefValue>;
  /** Account keys used in prefs, for tests that need them. */
  keys: { imapAccount: 'account1'; imapServer: 'server1'; identity: 'id1'; smtp: 'smtp1' };
}

/** Prefs that keep a headless, offline-ish Thunderbird quiet and deterministic. */
export const QUIET_PREFS: Readonly<Record<string, PrefValue>> = {
  // Side-loaded, unsigned add-ons enabled without a prompt.
  'extensions.autoDisableScopes': 0,
  'extensions.enabledScopes': 15,
  'xpinstall.signatures.required': false,
  'extensions.update.enabled': false,
  'extensions.update.autoUpdateDefault': false,
  'extensions.getAddons.cache.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  // Console of add-on pages to stdout (the harness reads it).
  'devtools.console.stdout.content': true,
  'browser.dom.window.dump.enabled': true,
  // First-run UI and nags.
  'mail.provider.enabled': false,
  'mail.shell.checkDefaultClient': false,
  'mailnews.start_page.enabled': false,
  'mail.rights.version': 1,
  'mail.startup.enabledMailCheckOnce': true,
  'mail.inappnotifications.enabled': false,
  'app.donation.eoy.version.viewed': 9999,
  'mail.biff.show_alert': false,
  'mail.biff.play_sound': false,
  'mail.biff.use_system_alert': false,
  'mailnews.auto_config.fetchFromISP.enabled': false,
  'mailnews.auto_config.guess.enabled': false,
  // A crash (SIGKILL) must not turn the next launch into a safe-mode prompt.
  'toolkit.startup.max_resumed_crashes': -1,
  // No network chatter.
  'app.update.enabled': false,
  'app.update.auto': false,
  'app.update.checkInstallTime': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.server': '',
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'datareporting.healthreport.uploadEnabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.policy.dataSubmissionPolicyBypassNotification': true,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.proxy.type': 0,
  'network.trr.mode': 5,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  // Remote settings: a closed local port, so fetches fail at once.
  'services.settings.server': 'http://127.0.0.1:9/v1',
  'media.gmp-manager.url': '',
  'media.gmp-provider.enabled': false,
  'browser.region.update.enabled': false,
  'browser.region.network.url': '',
  'security.OCSP.enabled': 0,
  // Start online (2 = online; 1 would be "ask").
  'offline.startup_state': 2,
};

function prefLine(name: string, value: PrefValue): string {
  let v: string;
  if (typeof value === 'boolean') v = String(value);
  else if (typeof value === 'number' && Number.isInteger(value)) v = String(value);
  else v = JSON.stringify(String(value));
  return `user_pref(${JSON.stringify(name)}, ${v});`;
}

export function renderPrefs(prefs: Record<string, PrefValue>): string {
  return (
    '// Written by tests/support/thunderbird.ts\n' +
    Object.entries(prefs)
      .map(([k, v]) => prefLine(k, v))
      .join('\n') +
    '\n'
  );
}

function execText(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; encoding?: 'utf8' | 'buffer' } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    // A child that exits without reading its input (unzip -p) must not turn into an
    // uncaught EPIPE: the exit status already tells what happened.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** The gecko id from an XPI's manifest.json (browser_specific_settings or applications). */
export async function readAddonId(xpiPath: string): Promise<string> {
  const text = await execText('unzip', ['-p', xpiPath, 'manifest.json']);
  const manifest = JSON.parse(text) as {
    browser_specific_settings?: { gecko?: { id?: string } };
    applications?: { gecko?: { id?: string } };
  };
  const id = manifest.browser_specific_settings?.gecko?.id ?? manifest.applications?.gecko?.id;
  if (!id) throw new Error(`${xpiPath}: manifest.json has no browser_specific_settings.gecko.id`);
  return id;
}

/** Zip a folder (manifest.json at its top) into an XPI. */
export async function zipAddon(srcDir: string, xpiPath: string): Promise<string> {
  const out = path.resolve(xpiPath);
  await fsp.rm(out, { force: true });
  await new Promise<void>((resolve, reject) => {
    execFile('zip', ['-q', '-r', '-X', out, '.'], { cwd: srcDir }, (err, _o, stderr) =>
      err ? reject(new Error(`zip ${srcDir}: ${err.message}\n${stderr}`)) : resolve(),
    );
  });
  return out;
}

/**
 * Store logins in the profile (NSS key db + logins.json) with Thunderbird's own NSS.
 * Origins are `imap://HOST` / `smtp://HOST` (no port) for mail servers.
 */
export async function storeLogins(
  profileDir: string,
  logins: { origin: string; username: string; password: string; httpRealm?: string }[],
): Promise<void> {
  if (logins.length === 0) return;
  const env = { ...process.env, LD_LIBRARY_PATH: THUNDERBIRD_LIB_DIR };
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  await execText(python, [TB_LOGINS_SCRIPT], {
    input: JSON.stringify({ profileDir, nssDir: THUNDERBIRD_LIB_DIR, logins }),
    env,
  });
}

export async function createProfile(opts: ProfileOptions): Promise<Profile> {
  const dir = path.resolve(opts.dir);
  await fsp.mkdir(path.join(dir, 'extensions'), { recursive: true });

  const prefs: Record<string, PrefValue> = { ...QUIET_PREFS };
  const accounts: string[] = [];
  const keys = { imapAccount: 'account1', imapServer: 'server1', identity: 'id1', smtp: 'smtp1' } as const;

  if (opts.smtp) {
    const s = opts.smtp;
    const auth = s.user !== undefined && s.pass !== undefined;
    Object.assign(prefs, {
      'mail.smtpservers': keys.smtp,
      'mail.smtp.defaultserver': keys.smtp,
      [`mail.smtpserver.${keys.smtp}.type`]: 'smtp',
      [`mail.smtpserver.${keys.smtp}.hostname`]: s.host,
      [`mail.smtpserver.${keys.smtp}.port`]: s.port,
      [`mail.smtpserver.${keys.smtp}.authMethod`]: auth ? 3 : 1,
      [`mail.smtpserver.${keys.smtp}.try_ssl`]: 0,
      [`mail.smtpserver.${keys.smtp}.description`]: 'test smtp',
    });
    if (auth) prefs[`mail.smtpserver.${keys.smtp}.username`] = s.user!;
  }

  if (opts.imap) {
    const i = opts.imap;
    const ident = opts.identity ?? { name: i.user, email: i.user };
    const folderBase = `imap://${encodeURIComponent(i.user)}@${i.host}`;
    accounts.push(keys.imapAccount);
    const sv = `mail.server.${keys.imapServer}`;
    const id = `mail.identity.${keys.identity}`;
    Object.assign(prefs, {
      [`mail.account.${keys.imapAccount}.server`]: keys.imapServer,
      [`mail.account.${keys.imapAccount}.identities`]: keys.identity,
      [`${sv}.type`]: 'imap',
      [`${sv}.hostname`]: i.host,
      [`${sv}.realhostname`]: i.host,
      [`${sv}.port`]: i.port,
      [`${sv}.userName`]: i.user,
      [`${sv}.realuserName`]: i.user,
      [`${sv}.name`]: ident.email,
      [`${sv}.socketType`]: 0,
      [`${sv}.authMethod`]: 3,
      [`${sv}.login_at_startup`]: true,
      [`${sv}.check_new_mail`]: true,
      [`${sv}.check_time`]: 1,
      [`${sv}.using_subscription`]: false,
      [`${sv}.directory-rel`]: `[ProfD]ImapMail/${i.host}`,
      [`${id}.fullName`]: ident.name,
      [`${id}.useremail`]: ident.email,
      [`${id}.valid`]: true,
      [`${id}.fcc`]: true,
      [`${id}.fcc_folder`]: `${folderBase}/Sent`,
      [`${id}.draft_folder`]: `${folderBase}/Drafts`,
      [`${id}.reply_on_top`]: 1,
    });
    if (opts.smtp) prefs[`${id}.smtpServer`] = keys.smtp;
  }

  // Local Folders, as Thunderbird would create it.
  accounts.push('account2');
  Object.assign(prefs, {
    'mail.account.account2.server': 'server2',
    'mail.server.server2.type': 'none',
    'mail.server.server2.hostname': 'Local Folders',
    'mail.server.server2.name': 'Local Folders',
    'mail.server.server2.userName': 'nobody',
    'mail.server.server2.directory-rel': '[ProfD]Mail/Local Folders',
    'mail.accountmanager.localfoldersserver': 'server2',
    'mail.accountmanager.accounts': accounts.join(','),
    'mail.account.lastKey': 2,
  });
  if (opts.imap) prefs['mail.accountmanager.defaultaccount'] = keys.imapAccount;

  Object.assign(prefs, opts.prefs ?? {});
  const text = renderPrefs(prefs);
  await fsp.writeFile(path.join(dir, 'prefs.js'), text);
  await fsp.writeFile(path.join(dir, 'user.js'), text);

  // Main window size/position (matters only with a display; avoids a black strip under Xvfb).
  await fsp.writeFile(
    path.join(dir, 'xulstore.json'),
    JSON.stringify({
      'chrome://messenger/content/messenger.xhtml': {
        messengerWindow: { screenX: '0', screenY: '0', width: '1400', height: '900', sizemode: 'normal' },
      },
    }),
  );

  const addonIds: string[] = [];
  for (const xpi of opts.addons ?? []) {
    const id = await readAddonId(xpi);
    await fsp.copyFile(xpi, path.join(dir, 'extensions', `${id}.xpi`));
    addonIds.push(id);
  }

  const logins: { origin: string; username: string; password: string }[] = [];
  if (opts.imap) logins.push({ origin: `imap://${opts.imap.host}`, username: opts.imap.user, password: opts.imap.pass });
  if (opts.smtp?.user !== undefined && opts.smtp.pass !== undefined) {
    logins.push({ origin: `smtp://${opts.smtp.host}`, username: opts.smtp.user, password: opts.smtp.pass });
  }
  await storeLogins(dir, logins);

  return { dir, addonIds, prefs, keys };
}

/** Append prefs to user.js (applied at the next launch, overriding prefs.js). */
export async function setUserPrefs(profileDir: string, prefs: Record<string, PrefValue>): Promise<void> {
  const lines = Object.entries(prefs).map(([k, v]) => prefLine(k, v));
  await fsp.appendFile(path.join(profileDir, 'user.js'), lines.join('\n') + '\n');
}

export interface LaunchOptions {
  /** Extra environment (undefined values remove a variable). HOME defaults to PROFILE/.home. */
  env?: Record<string, string | undefined>;
  /** true (default): --headless. false: a private Xvfb (1400x900x24) and `screenshot()`. */
  headless?: boolean;
  /** Extra command-line arguments. */
  args?: string[];
  /** Called for every stdout/stderr line. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Echo Thunderbird's output to this process's stderr (also: SEALCODE_TB_VERBOSE=1). */
  echo?: boolean;
}

export interface ThunderbirdProcess {
  proc: ChildProcess;
  /** stdout and stderr lines in arrival order. */
  lines: string[];
  stdoutLines: string[];
  stderrLines: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The X display (`:N`) when not headless. */
  display?: string;
  /** Resolves with the first line (seen or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Last `n` output lines (GTK noise left out), for failure messages. */
  tail(n?: number): string;
  /** Full-screen PNG via ImageMagick `import` (only when headless: false). */
  screenshot(file: string): Promise<void>;
  /** SIGTERM, then SIGKILL to the whole process group after `graceMs` (default 10 s). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Harmless chatter (headless GTK, remote settings failing against the closed local port),
 * left out of tail() and echo; still in `lines`.
 */
const NOISE =
  /gtk_icon_theme_|GDK_IS_SCREEN|GTK_IS_ICON_THEME|^\s*$|services\.settings|services-settings|Remote Settings|NetworkError: Network request failed|^\s+Stack:\s*$|dbus-launch|org\.a11y\.Bus/;
export function isNoise(line: string): boolean {
  return NOISE.test(line);
}

const liveGroups = new Set<number>();
let exitHook = false;
function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const g of liveGroups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

async function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
  for (let n = 99; n < 400; n++) {
    if (fs.existsSync(`/tmp/.X11-unix/X${n}`) || fs.existsSync(`/tmp/.X${n}-lock`)) continue;
    const proc = spawn('Xvfb', [`:${n}`, '-screen', '0', '1400x900x24', '-nolisten', 'tcp', '-ac'], {
      stdio: 'ignore',
      detached: true,
    });
    proc.unref();
    let failed = false;
    proc.once('exit', () => (failed = true));
    proc.once('error', () => (failed = true));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !failed) {
      if (fs.existsSync(`/tmp/.X11-unix/X${n}`)) {
        trackGroup(proc.pid!);
        return { display: `:${n}`, proc };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!failed) proc.kill('SIGKILL');
  }
  throw new Error('could not start Xvfb (apt-get install xvfb)');
}

export async function launchThunderbird(profileDir: string, opts: LaunchOptions = {}): Promise<ThunderbirdProcess> {
  const headless = opts.headless ?? true;
  const echo = opts.echo ?? process.env.SEALCODE_TB_VERBOSE === '1';
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  if (!opts.env || !('HOME' in opts.env)) {
    const home = path.join(profileDir, '.home');
    await fsp.mkdir(home, { recursive: true });
    env.HOME = home;
    delete env.XDG_CONFIG_HOME;
    delete env.XDG_CACHE_HOME;
    delete env.XDG_DATA_HOME;
  }
  Object.assign(env, {
    MOZ_CRASHREPORTER_DISABLE: '1',
    MOZ_DISABLE_AUTO_SAFE_MODE: '1',
    MOZ_NO_REMOTE: '1',
    // Release builds ignore the services.settings.server pref without this.
    MOZ_REMOTE_SETTINGS_DEVTOOLS: '1',
  });
  let xvfb: { display: string; proc: ChildProcess } | undefined;
  if (!headless) {
    xvfb = await startXvfb();
    env.DISPLAY = xvfb.display;
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }

  const args = [...(headless ? ['--headless'] : []), '--no-remote', '--profile', profileDir, ...(opts.args ?? [])];
  // Own process group, so stop() can also reach content processes.
  const proc = spawn(THUNDERBIRD_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (proc.pid === undefined) {
    xvfb?.proc.kill('SIGKILL');
    throw new Error(`could not start ${THUNDERBIRD_BIN}`);
  }
  const pid = proc.pid;
  trackGroup(pid);

  const lines: string[] = [];
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const lineWaiters = new Set<() => void>();
  const attach = (stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr', into: string[]): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        into.push(line);
        if (echo && !isNoise(line)) process.stderr.write(`[tb ${name}] ${line}\n`);
        opts.onLine?.(line, name);
      }
      for (const w of [...lineWaiters]) w();
    });
  };
  attach(proc.stdout!, 'stdout', stdoutLines);
  attach(proc.stderr!, 'stderr', stderrLines);

  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
      for (const w of [...lineWaiters]) w();
    });
  });

  const tail = (n = 80): string =>
    lines
      .filter((l) => !isNoise(l))
      .slice(-n)
      .join('\n');

  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* gone */
    }
  };

  const stop = async (graceMs = 10_000): Promise<void> => {
    if (!hasExited) {
      try {
        proc.kill('SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => killGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    }
    // Content/utility processes that outlived the parent.
    killGroup('SIGKILL');
    liveGroups.delete(pid);
    if (xvfb) {
      const x = xvfb.proc;
      if (x.exitCode === null && x.signalCode === null) {
        const gone = new Promise<void>((r) => x.once('exit', () => r()));
        try {
          process.kill(-x.pid!, 'SIGTERM');
        } catch {
          /* gone */
        }
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      }
      liveGroups.delete(x.pid!);
    }
  };

  return {
    proc,
    lines,
    stdoutLines,
    stderrLines,
    exited,
    display: xvfb?.display,
    waitForLine(re, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            if (re.test(lines[seen]!)) {
              lineWaiters.delete(check);
              clearTimeout(timer);
              resolve(lines[seen]!);
              return;
            }
          }
          if (hasExited) {
            lineWaiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`thunderbird exited before printing ${re}\n--- output tail ---\n${tail()}`));
          }
        };
        const timer = setTimeout(() => {
          lineWaiters.delete(check);
          reject(new Error(`thunderbird: no line matching ${re} after ${timeoutMs} ms\n--- output tail ---\n${tail()}`));
        }, timeoutMs);
        lineWaiters.add(check);
        check();
      });
    },
    tail,
    async screenshot(file) {
      if (!xvfb) throw new Error('screenshot() needs launchThunderbird(dir, { headless: false })');
      await execText('import', ['-display', xvfb.display, '-window', 'root', file]);
    },
    stop,
  };
}
