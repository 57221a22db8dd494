/**
 * A throwaway Dovecot IMAP server on 127.0.0.1 for integration tests.
 *
 *   const dc = await startDovecot({ users: [{ user: 'alice@example.test', pass: 'secret' }] });
 *   // ... IMAP on dc.host:dc.port, PLAIN/LOGIN without TLS ...
 *   await dc.stop();     // outage: port closed, mail store kept
 *   await dc.start();    // same port, same mail
 *   await dc.dispose();  // stop and delete the temp folder
 *
 * Config is templated into a temp folder (see /work/shared/recipes/dovecot.md). As root the
 * daemon runs as `nobody` (folders chowned to it); otherwise as the current user.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFreePort, probeSocket, waitForPortClosed } from './ports.js';

export interface DovecotUser {
  user: string;
  pass: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** Fixed port; default: a free one. */
  port?: number;
  /** Parent folder for the temp folder; default /tmp as root (so `nobody` can reach it), else os.tmpdir(). */
  tmpRoot?: string;
  /** Extra lines appended to dovecot.conf. */
  extraConfig?: string;
}

export interface Dovecot {
  readonly host: string;
  readonly port: number;
  /** Temp folder holding dovecot/ (config, run, state, log) and mail/. */
  readonly dir: string;
  readonly confPath: string;
  readonly logPath: string;
  readonly users: readonly DovecotUser[];
  /** True between a successful start() and stop()/kill(). */
  readonly running: boolean;
  /** Starts (again) on the same port with the same mail store; resolves once the IMAP greeting is seen. */
  start(): Promise<void>;
  /** `doveadm -c CONF stop`, waits for the master to exit and the port to close. Mail is kept. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP the master and all its children: connections are accepted by the kernel but never answered. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL the master and all its children (a crash). start() works afterwards. */
  kill(): Promise<void>;
  /** Deliver a raw RFC 822 message with `doveadm save` (no IMAP involved). */
  append(user: string, raw: string | Buffer, mailbox?: string): Promise<void>;
  /** The Dovecot log so far. */
  log(): string;
  /** Last `lines` lines of the log, for failure diagnostics. */
  logTail(lines?: number): string;
  /** stop() (if running) and delete the temp folder (kept when SEALCODE_KEEP_TMP=1). */
  dispose(): Promise<void>;
}

const HOST = '127.0.0.1';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function findBinary(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin']) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(`${name} not found (apt-get install dovecot-imapd; see scripts/ensure-system-deps.sh)`);
}

function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        uid: opts.uid,
        gid: opts.gid,
        timeout: opts.timeoutMs ?? 20_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}${stdout}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function idOf(user: string): Promise<{ uid: number; gid: number; group: string }> {
  const one = async (flag: string): Promise<string> => (await run('id', [flag, user])).stdout.trim();
  return { uid: Number(await one('-u')), gid: Number(await one('-g')), group: await one('-gn') };
}

function readText(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Alive and not a zombie. */
function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

function signalTreeOf(pid: number, sig: NodeJS.Signals): void {
  for (const p of processTree(pid)) {
    try {
      process.kill(p, sig);
    } catch {
      /* gone */
    }
  }
}

/** pid plus all its descendants (Linux /proc). */
function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [rootPid];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // comm may contain spaces/parens: fields after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(rest[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      /* process went away */
    }
  }
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Resolves when an IMAP greeting (`* OK`) arrives on host:port. */
function imapGreeting(port: number, timeoutMs: number): Promise<boolean> {
  let buf = '';
  return probeSocket(port, HOST, timeoutMs, (sock, done) =>
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('* OK'));
    }),
  );
}

const live = new Set<{ masterPid(): number | undefined }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const inst of live) {
      const pid = inst.masterPid();
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  });
}

function renderConfig(p: {
  dir: string;
  user: string;
  group: string;
  port: number;
  extra: string;
}): string {
  const { dir, user, group, port } = p;
  return `# generated by tests/support/dovecot.ts
base_dir = ${dir}/dovecot/run
state_dir = ${dir}/dovecot/state
log_path = ${dir}/dovecot/dovecot.log
protocols = imap
listen = ${HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = ${user}
default_internal_group = ${group}
default_login_user = ${user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:${dir}/mail/%u/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/dovecot/users
}
userdb {
  driver = static
  args = uid=${user} gid=${group} home=${dir}/mail/%u
}
protocol imap {
  # Thunderbird alone caches up to 5 connections; gateway + client + test can exceed the default 10.
  mail_max_userip_connections = 200
}
service imap-login {
  chroot =
  inet_listener imap {
    address = ${HOST}
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
${p.extra}
`;
}

export async function startDovecot(opts: DovecotOptions): Promise<Dovecot> {
  const dovecotBin = findBinary('dovecot');
  const doveadmBin = findBinary('doveadm');
  for (const u of opts.users) {
    if (/[:\n\s]/.test(u.user) || /[:\n]/.test(u.pass)) {
      throw new Error(`startDovecot: user/password must not contain ':' or newlines (${u.user})`);
    }
  }
  const runUser = isRoot ? 'nobody' : os.userInfo().username;
  const ids = await idOf(runUser);
  const runGroup = ids.group;
  const tmpRoot = opts.tmpRoot ?? (isRoot ? '/tmp' : os.tmpdir());
  const dir = await fsp.mkdtemp(path.join(tmpRoot, 'sealcode-dovecot-'));
  const port = opts.port ?? (await getFreePort(HOST));
  const confPath = path.join(dir, 'dovecot', 'dovecot.conf');
  const logPath = path.join(dir, 'dovecot', 'dovecot.log');
  const pidPath = path.join(dir, 'dovecot', 'run', 'master.pid');
  const startLogPath = path.join(dir, 'dovecot', 'start.log');

  for (const sub of ['dovecot/run', 'dovecot/state', 'mail']) {
    await fsp.mkdir(path.join(dir, sub), { recursive: true });
  }
  await fsp.writeFile(
    confPath,
    renderConfig({ dir, user: runUser, group: runGroup, port, extra: opts.extraConfig ?? '' }),
  );
  await fsp.writeFile(
    path.join(dir, 'dovecot', 'users'),
    opts.users.map((u) => `${u.user}:{PLAIN}${u.pass}`).join('\n') + '\n',
  );
  await fsp.writeFile(logPath, '');
  if (isRoot) await run('chown', ['-R', `${runUser}:${runGroup}`, dir]);

  // As root, child processes drop to the daemon's user through spawn's uid/gid (libuv also
  // clears supplementary groups). Not `runuser`: it stops itself when its child is SIGSTOPped
  // (job-control mimicry) and then never reaps it, which breaks pause().
  const asUser: { uid?: number; gid?: number } = isRoot ? { uid: ids.uid, gid: ids.gid } : {};

  let running = false;
  let paused = false;
  let masterPid: number | undefined;
  let childExit: Promise<void> = Promise.resolve();
  const handle = { masterPid: () => (running ? masterPid : undefined) };

  const readPid = (): number | undefined => {
    try {
      const n = Number(fs.readFileSync(pidPath, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  };

  const log = (): string => readText(logPath);
  const logTail = (lines = 60): string => log().split('\n').slice(-lines - 1).join('\n');

  const start = async (): Promise<void> => {
    if (running) return;
    // Foreground mode (-F) keeps the master our (or runuser's) child, so its exit is seen at
    // once: a daemonized master would become a zombie of PID 1, which some containers reap slowly.
    const cmd = dovecotBin;
    const args = ['-F', '-c', confPath];
    const out = fs.openSync(startLogPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', out, out], ...asUser });
    } finally {
      fs.closeSync(out);
    }
    child.unref();
    let exitInfo: string | undefined;
    childExit = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        exitInfo = `exit code ${code} signal ${sig}`;
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = String(err);
        resolve();
      });
    });
    const fail = (why: string): Error =>
      new Error(
        `dovecot (${cmd} ${args.join(' ')}) ${why}\n--- start output ---\n${readText(startLogPath)}` +
          `\n--- dovecot.log ---\n${logTail()}`,
      );
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (exitInfo !== undefined) throw fail(`exited before greeting: ${exitInfo}`);
      if (await imapGreeting(port, 1000)) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        const pid = readPid();
        if (pid !== undefined) signalTreeOf(pid, 'SIGKILL');
        throw fail(`did not greet on ${HOST}:${port} within 15 s`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    masterPid = readPid();
    running = true;
    paused = false;
    live.add(handle);
    installExitHook();
  };

  const waitChildExit = async (timeoutMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    const ok = await Promise.race([childExit.then(() => true), timeout]);
    clearTimeout(timer);
    return ok;
  };

  const signalTree = (sig: NodeJS.Signals): void => {
    const pid = masterPid ?? readPid();
    if (pid !== undefined) signalTreeOf(pid, sig);
  };

  const stop = async (): Promise<void> => {
    if (!running) return;
    if (paused) {
      signalTree('SIGCONT');
      paused = false;
    }
    try {
      await run(doveadmBin, ['-c', confPath, 'stop'], { cwd: dir });
    } catch {
      const pid = masterPid ?? readPid();
      if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGTERM');
    }
    if (!(await waitChildExit(10_000))) {
      signalTree('SIGKILL');
      await waitChildExit(5_000);
    }
    await waitForPortClosed(port, HOST, 10_000);
    running = false;
    live.delete(handle);
  };

  const kill = async (): Promise<void> => {
    if (!running) return;
    // Collect the tree first: once the master dies its children are re-parented.
    const pid = masterPid ?? readPid();
    const tree = pid === undefined ? [] : processTree(pid);
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await waitChildExit(5_000);
    await waitForPortClosed(port, HOST, 10_000);
    running = false;
    paused = false;
    live.delete(handle);
  };

  const dc: Dovecot = {
    host: HOST,
    port,
    dir,
    confPath,
    logPath,
    users: opts.users,
    get running() {
      return running;
    },
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    pause() {
      if (!running || paused) return;
      signalTree('SIGSTOP');
      paused = true;
    },
    resume() {
      if (!paused) return;
      signalTree('SIGCONT');
      paused = false;
    },
    kill,
    async append(user, raw, mailbox = 'INBOX') {
      const body = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      await run(doveadmBin, ['-c', confPath, 'save', '-u', user, '-m', mailbox], { input: body, cwd: dir, ...asUser });
    },
    log,
    logTail,
    async dispose() {
      try {
        await stop();
      } finally {
        if (process.env.SEALCODE_KEEP_TMP !== '1') {
          await fsp.rm(dir, { recursive: true, force: true });
        }
      }
    },
  };

  try {
    await start();
  } catch (e) {
    if (process.env.SEALCODE_KEEP_TMP !== '1') await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  return dc;
}
