// Resident memory of a Thunderbird run, from /proc: every process whose command line names
// the profile folder, and their descendants. Sampled on a timer, so a test or a bench can ask
// for the peak within a window of time. An upper bound on the add-on's share: Thunderbird's
// own work (MIME, IMAP, compose) is in the same processes.
import fs from 'node:fs';

export const MB = 1 << 20;

/** RSS (bytes) of every process whose command line names `marker`, and of their descendants. */
export function treeRss(marker: string): number {
  const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const parent = new Map<string, string>();
  const roots = new Set<string>();
  const rss = new Map<string, number>();
  for (const pid of procs) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(pid, f[1]!);
      rss.set(pid, Number(f[21]) * 4096);
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) roots.add(pid);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  for (const pid of rss.keys()) {
    for (let p: string | undefined = pid; p && p !== '0'; p = parent.get(p))
      if (roots.has(p)) {
        total += rss.get(pid)!;
        break;
      }
  }
  return total;
}

export interface MemorySampler {
  /** Peak RSS (bytes) of the samples taken within [from, to] (epoch ms); 0 when none. */
  peak(from: number, to: number): number;
  /** The highest of the last `n` samples up to `at`: the idle level before something starts. */
  levelAt(at: number, n?: number): number;
  stop(): void;
}

export function sampleMemory(marker: string, everyMs = 100): MemorySampler {
  const samples: { t: number; rss: number }[] = [];
  const timer = setInterval(() => {
    const rss = treeRss(marker);
    if (rss > 0) samples.push({ t: Date.now(), rss });
  }, everyMs);
  const within = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t <= to);
  return {
    peak: (from, to) => Math.max(0, ...within(from, to).map((s) => s.rss)),
    levelAt: (at, n = 10) => Math.max(0, ...samples.filter((s) => s.t <= at).slice(-n).map((s) => s.rss)),
    stop: () => clearInterval(timer),
  };
}
