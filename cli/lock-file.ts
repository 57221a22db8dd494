// One writer at a time for a file several sealcode processes rewrite whole (a card file:
// the card host and `card sync`; a game record): LOCK is made with O_EXCL and holds the
// holder's pid, so a lock left by a process that died is taken over.
import fs from 'node:fs';
import { CliError } from './errors.js';

const STEP_MS = 50;

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(lock, 'utf8').trim());
  } catch {
    return true; // being written or just removed: look again
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding `lock`, waiting up to `waitMs` for a live holder, then throwing `busy()`. */
export async function withLockFile<T>(lock: string, fn: () => Promise<T>, o: { waitMs: number; busy: () => Error }): Promise<T> {
  const until = Date.now() + o.waitMs;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CliError(`cannot take the lock ${lock}: ${(e as Error).message}`);
      if (!holderAlive(lock)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() >= until) throw o.busy();
      await new Promise((r) => setTimeout(r, STEP_MS));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** The card file's lock (FILE.lock) for one read-change-write; a network round trip may run inside. */
export const withCardFileLock = <T>(file: string, fn: () => Promise<T>, waitMs = 30_000): Promise<T> =>
  withLockFile(`${file}.lock`, fn, {
    waitMs,
    busy: () => new CliError(`the card file ${file} is being changed by another sealcode process (${file}.lock); try again`),
  });
