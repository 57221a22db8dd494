// Output files appear whole or not at all: everything is written to a temporary file
// in the destination folder and renamed into place only once it is complete. Temporary
// files are removed on failure and on Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError, EXIT } from './errors.js';

const pending = new Set<string>();
let hooked = false;

function hookSignals(): void {
  if (hooked) return;
  hooked = true;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)
    process.on(sig, () => {
      for (const p of pending) fs.rmSync(p, { force: true });
      process.exit(code);
    });
}

/** A fresh temporary path beside `target`, removed on a signal until released. */
export function tempBeside(target: string): string {
  hookSignals();
  const p = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.part`);
  pending.add(p);
  return p;
}

export function discard(temp: string): void {
  fs.rmSync(temp, { force: true });
  pending.delete(temp);
}

export function commit(temp: string, target: string): void {
  fs.renameSync(temp, target);
  pending.delete(temp);
}

/** Refuses to overwrite unless asked, and checks the folder exists, before any work. */
export function checkTarget(target: string, force = false): void {
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new CliError(`the folder ${dir} does not exist`, EXIT.usage, 'USAGE');
  if (!force && fs.existsSync(target)) throw new CliError(`${target} already exists (use --force to replace it)`, EXIT.usage, 'USAGE');
}

/** Writes a small file in one go, atomically; `mode` 0600 for anything holding secrets. */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempBeside(target);
  try {
    fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
    commit(tmp, target);
  } catch (e) {
    discard(tmp);
    throw e;
  }
}

export function readInput(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    throw new CliError(`cannot read ${what} ${file}`, EXIT.usage, 'USAGE');
  }
}
