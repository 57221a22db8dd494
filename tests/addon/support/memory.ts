// Resident memory of a Thunderbird run, from /proc: every process whose command line names
// the profile folder, and their descendants. Sampled on a timer, so a test or a bench can ask
// for the peak within a window of time. An upper bound on the add-on's share: Thunderbird's
// own work (MIME, IMAP, compose) is in the same processes.
import fs from 'node:fs';

export const MB = 1 << 20;

/** One process of the tree: `ROLE:PID` (Gecko's `-contentproc … TYPE`, `main`, or a program's name) and RSS in bytes. */
export interface ProcRss {
  pid: string;
  role: string;
  rss: number;
}

const roleOf = (cmdline: string): string => {
  const a = cmdline.split('\0');
  // Other descendants (the card host's node, a shell) by their program's name.
  if (!a.includes('-contentproc')) return /thunderbird/.test(a[0] ?? '') ? 'main' : (a[0] ?? '?').split('/').at(-1)!;
  // Gecko's child command lines end with the process type (tab, socket, rdd, utility, …).
  return a.filter(Boolean).at(-1) ?? 'child';
};

/** Every process whose command line names `marker`, and their descendants, with their RSS. */
export function treeProcs(marker: string): ProcRss[] {
  const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const parent = new Map<string, string>();
  const roots = new Set<string>();
  const info = new Map<string, { rss: number; cmd: string }>();
  for (const pid of procs) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(pid, f[1]!);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      info.set(pid, { rss: Number(f[21]) * 4096, cmd });
      if (cmd.includes(marker)) roots.add(pid);
    } catch {
      /* gone */
    }
  }
  const out: ProcRss[] = [];
  for (const [pid, p] of info) {
    for (let q: string | undefined = pid; q && q !== '0'; q = parent.get(q))
      if (roots.has(q)) {
        out.push({ pid, role: `${roleOf(p.cmd)}:${pid}`, rss: p.rss });
        break;
      }
  }
  return out;
}

/** RSS (bytes) of every process whose command line names `marker`, and of their descendants. */
export const treeRss = (marker: string): number => treeProcs(marker).reduce((s, p) => s + p.rss, 0);

export interface MemorySampler {
  /** Peak RSS (bytes) of the samples taken within [from, to] (epoch ms); 0 when none. */
  peak(from: number, to: number): number;
  /** The highest of the last `n` samples up to `at`: the idle level before something starts. */
  levelAt(at: number, n?: number): number;
  /** Per process of the tree: the highest RSS within [from, to] and the level at `base` (bytes). */
  byProcess(from: number, to: number, base: number): { role: string; peak: number; base: number }[];
  /** `byProcess` said in a line: each process that grew by more than `minBytes`, e.g. "tab +12, main +3" (MB). */
  grewBy(from: number, to: number, base?: number, minBytes?: number): string;
  stop(): void;
}

export function sampleMemory(marker: string, everyMs = 100): MemorySampler {
  const samples: { t: number; rss: number; procs: ProcRss[] }[] = [];
  const timer = setInterval(() => {
    const procs = treeProcs(marker);
    const rss = procs.reduce((s, p) => s + p.rss, 0);
    if (rss > 0) samples.push({ t: Date.now(), rss, procs });
  }, everyMs);
  const within = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t <= to);
  const before = (at: number, n: number) => samples.filter((s) => s.t <= at).slice(-n);
  const byProcess = (from: number, to: number, base: number) => {
    const roleSet = new Set(within(from, to).flatMap((s) => s.procs.map((p) => p.role)));
    const of = (ss: typeof samples, role: string) => Math.max(0, ...ss.map((s) => s.procs.find((p) => p.role === role)?.rss ?? 0));
    return [...roleSet].map((role) => ({ role, peak: of(within(from, to), role), base: of(before(base, 10), role) }));
  };
  return {
    peak: (from, to) => Math.max(0, ...within(from, to).map((s) => s.rss)),
    levelAt: (at, n = 10) => Math.max(0, ...before(at, n).map((s) => s.rss)),
    byProcess,
    grewBy: (from, to, base = from, minBytes = 2 * MB) =>
      byProcess(from, to, base)
        .filter((p) => p.peak - p.base > minBytes)
        .map((p) => `${p.role.split(':')[0]} +${((p.peak - p.base) / MB).toFixed(0)}`)
        .join(', ') || `no process > ${(minBytes / MB).toFixed(0)} MB`,
    stop: () => clearInterval(timer),
  };
}
