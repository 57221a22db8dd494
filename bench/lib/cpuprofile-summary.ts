// Summarises a V8 .cpuprofile (node --cpu-prof) by self time per function and per file,
// for finding where a server spends its CPU under a bench.
//   npx tsx bench/lib/cpuprofile-summary.ts FILE.cpuprofile [top=40] [--from S[,S...] --to S[,S...]]
// --from/--to keep the samples of some stretches (seconds after the profile began): the
// rounds of one row of a bench, as bench/distributor.ts prints them when it profiles.
import fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const opt = (name: string): number[] | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]!.split(',').map((x) => Number(x) * 1e6) : undefined;
};
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const file = positional[0]!;
const top = Number(positional[1] ?? 40);
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
// Samples outside the stretch asked for are dropped (their time delta set to 0).
const from = opt('from') ?? [0];
const to = opt('to') ?? [Infinity];
const inside = (t: number) => from.some((f, i) => t >= f && t < (to[i] ?? Infinity));
let at = 0;
p.timeDeltas = p.timeDeltas.map((d) => (inside((at += d)) ? d : 0));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<number, number>();
p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const short = (url: string) => url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/build\//, '');
const fn = new Map<string, number>();
const files = new Map<string, number>();
// Inclusive time per function (counted once per sample even if recursive).
const incl = new Map<string, number>();
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const cf = byId.get(cur)!.callFrame;
    const k = `${cf.functionName || '(anon)'} ${short(cf.url)}:${cf.lineNumber + 1}`;
    if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + dt); }
  }
});
for (const [id, t] of self) {
  const cf = byId.get(id)!.callFrame;
  const k = `${cf.functionName || '(anon)'} ${short(cf.url)}:${cf.lineNumber + 1}`;
  fn.set(k, (fn.get(k) ?? 0) + t);
  const f = short(cf.url) || `(${cf.functionName})`;
  files.set(f, (files.get(f) ?? 0) + t);
}
const show = (title: string, m: Map<string, number>, n = top) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((t / total) * 100).toFixed(1).padStart(6)}%  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
const idle = [...fn].filter(([k]) => k.startsWith('(idle)')).reduce((n, [, t]) => n + t, 0);
console.log(`total sampled ${(total / 1000).toFixed(0)} ms (${((idle / total) * 100).toFixed(0)}% idle) over ${((p.endTime - p.startTime) / 1000).toFixed(0)} ms`);
show('self time by function', fn);
show('self time by file', files, 25);
show('inclusive time by function', incl, top);
