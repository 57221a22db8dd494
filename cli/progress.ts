// A progress bar on stderr for big files, only when stderr is a terminal: scripts and
// pipes get clean output.
import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';

export const PROGRESS_THRESHOLD = 50 * 1024 * 1024;

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const none: Progress = { update() {}, stop() {} };

export function progressFor(label: string, total: number, force = false): Progress {
  if (!force && (!process.stderr.isTTY || total < PROGRESS_THRESHOLD)) return none;
  // Loaded only for a bar that is shown (~15 ms and 7 MB that a small file need not pay).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar: SingleBar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} MB | {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const mb = (n: number): number => Math.round(n / (1024 * 1024));
  bar.start(mb(total), 0);
  return {
    update: (done) => bar.update(mb(done)),
    stop: () => bar.stop(),
  };
}
