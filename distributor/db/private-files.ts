// The data folder holds the database, the master key and the console password: the
// folder is 0700 and every file in it 0600, whatever mode an existing folder or file had
// (the process umask would otherwise leave a new database 0644 in a 0755 folder).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';

export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Creates `path` empty when missing; either way leaves it 0600. */
export function privateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/** Writes a new file 0600; false (and nothing written) when it already exists. */
export function writePrivateFile(path: string, text: string): boolean {
  try {
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  chmodSync(path, 0o600);
  return true;
}

export function chmodIfPresent(path: string): void {
  if (existsSync(path)) chmodSync(path, 0o600);
}
