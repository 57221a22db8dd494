// Whole-process start-up of the built CLI, beside `node -e ''` in the same run: the root
// --help, `card info` and `card encrypt` of a 100 kB file (both including the card
// file's scrypt at the default cost), and a keyless `verify`; and, as the floor of the
// card commands, node running the card file's native scrypt alone. Wall and CPU
// seconds, peak RSS, medians. Run `npm run build` first.
//   npx tsx bench/cli-startup.ts [--runs N]      (default 9)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { measure, median, table } from './lib/measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'sealcode.js');
const i = process.argv.indexOf('--runs');
const runs = i > 0 ? Number(process.argv[i + 1]) : 9;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-startup-'));
const env = { ...process.env, SEALCODE_PASSPHRASE: 'bench passphrase, long enough' };
const cli = (...args: string[]) => measure(process.execPath, [bin, ...args], env);

cli('init', '--data', path.join(dir, 'data'));
cli('admin', 'issue-card', '--data', path.join(dir, 'data'), '--name', 'Bench', '--email', 'bench@example.test', '--out', path.join(dir, 'a.card'));
const serial = JSON.parse(cli('card', 'codes', '--card', path.join(dir, 'a.card'), '--json').stdout)[0].serial as string;
const input = path.join(dir, 'small.bin');
fs.writeFileSync(input, randomFillSync(Buffer.alloc(100_000)));
cli('card', 'encrypt', '--card', path.join(dir, 'a.card'), '--to', serial, input, '-o', path.join(dir, 'verify.seal'));

// What `card info` cannot go below while it opens the card file (docs/keys.md).
const SCRYPT_ALONE = `require('node:crypto').scrypt('p', Buffer.alloc(16), 32, { N: 1 << 16, r: 8, p: 1, maxmem: 1 << 30 }, () => {})`;

const cases: { name: string; run: (k: number) => ReturnType<typeof measure> }[] = [
  { name: "node -e ''", run: () => measure(process.execPath, ['-e', '']) },
  { name: "node: the card file's scrypt alone", run: () => measure(process.execPath, ['-e', SCRYPT_ALONE]) },
  { name: 'sealcode --help', run: () => cli('--help') },
  { name: 'sealcode card info', run: () => cli('card', 'info', '--card', path.join(dir, 'a.card')) },
  {
    name: 'sealcode card encrypt (100 kB)',
    run: (k) => cli('card', 'encrypt', '--card', path.join(dir, 'a.card'), '--to', serial, input, '-o', path.join(dir, `out-${k}.seal`)),
  },
  { name: 'sealcode verify (keyless)', run: () => cli('verify', '--data', path.join(dir, 'data'), path.join(dir, 'verify.seal')) },
];

const results = cases.map((c) => ({ name: c.name, wall: [] as number[], cpu: [] as number[], rss: [] as number[] }));
for (let k = 0; k < runs; k++)
  cases.forEach((c, j) => {
    const m = c.run(k);
    results[j]!.wall.push(m.wall);
    results[j]!.cpu.push(m.cpu);
    results[j]!.rss.push(m.rssMB);
  });
const base = { wall: median(results[0]!.wall), cpu: median(results[0]!.cpu) };
console.log(`${runs} runs each, medians; node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(
  table(
    ['command', 'wall s', 'CPU s', 'peak RSS MB', "wall vs node -e ''", "CPU vs node -e ''"],
    results.map((r) => [r.name, median(r.wall), median(r.cpu), median(r.rss), `${(median(r.wall) / base.wall).toFixed(1)}×`, `${(median(r.cpu) / base.cpu).toFixed(1)}×`]),
  ),
);
fs.rmSync(dir, { recursive: true, force: true });
