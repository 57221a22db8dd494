// Shared bench helpers: run a command under /usr/bin/time -v for its wall time and peak
// RSS, take medians, print aligned tables. Benchmarks print figures; they never assert.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Measured {
  /** Wall seconds of the whole process. */
  wall: number;
  /** Peak resident set size, MB. */
  rssMB: number;
  /** User + system CPU seconds of the whole process (all threads). */
  cpu: number;
  /** User CPU seconds alone: the process's own code, without the kernel's share. */
  user: number;
  /** Minor page faults (a fresh page touched). */
  faults: number;
  stdout: string;
}

export const hasTimeV = (): boolean => existsSync('/usr/bin/time');

export function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measured {
  const useTime = hasTimeV();
  const t0 = process.hrtime.bigint();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 })
    : spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const cpu = user && sys ? Number(user[1]) + Number(sys[1]) : NaN;
  const faults = /Minor \(reclaiming a frame\) page faults: (\d+)/.exec(r.stderr);
  return { wall, rssMB: m ? Number(m[1]) / 1024 : NaN, cpu, user: user ? Number(user[1]) : NaN, faults: faults ? Number(faults[1]) : NaN, stdout: r.stdout };
}

export function available(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isFinite(c) ? c.toFixed(c >= 100 ? 0 : 2) : '-') : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => '| ' + r.map((c, i) => String(c).padEnd(w[i]!)).join(' | ') + ' |';
  return [line(cells[0]!), '| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |', ...cells.slice(1).map(line)].join('\n');
}

export const fmtMBs = (bytes: number, seconds: number): number => bytes / 1e6 / seconds;
