// Sealing and opening a large file through the library path the CLI uses
// (cli/seal-files.ts: card/container/file-node.ts, node:crypto, temp file + fsync + rename),
// side by side in one run with `dd` (the kernel's copy: the disk limit), a plain copy
// through Node streams, textbook node:crypto AES-256-GCM in 1 MiB chunks, the whole
// CLI process (card file scrypt and fsync included), `age` (also with its output
// fsynced, as the CLI's is) and `gpg --symmetric`. Every variant runs in its own
// process (peak RSS per variant). Outputs go to the page cache as age and gpg leave
// them (the disk is synced, untimed, between runs) except where a row says fsync.
//   npm run bench:container -- [--size MiB] [--runs N]      (defaults: 256 MiB, 5 rounds)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomFillSync } from 'node:crypto';
import { build } from 'esbuild';
import { available, fmtMBs, measure, median, table } from './lib/measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const sizeMiB = arg('size', 256);
const runs = arg('runs', 5);
const bytes = sizeMiB * 1024 * 1024;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-bench-'));
const keysJson = path.join(here, '..', 'tests', 'vectors', 'keys.json');
const bin = path.join(here, '..', 'bin', 'sealcode.js');
const vectorNow = String(Date.UTC(2026, 0, 15, 12));

function makeInput(file: string): void {
  const fd = fs.openSync(file, 'w');
  const b = Buffer.allocUnsafe(1 << 20);
  for (let i = 0; i < sizeMiB; i++) fs.writeSync(fd, randomFillSync(b));
  fs.closeSync(fd);
}

const same = (a: string, b: string): boolean => spawnSync('cmp', ['-s', a, b]).status === 0;
const rm = (...f: string[]): void => f.forEach((x) => fs.rmSync(x, { force: true }));

interface Row {
  name: string;
  seal: number[];
  open: number[];
  sealRss: number[];
  openRss: number[];
  sealCpu: number[];
  openCpu: number[];
  sealUser: number[];
  openUser: number[];
  sealFaults: number[];
  openFaults: number[];
}

async function main(): Promise<void> {
  const child = path.join(dir, 'child.mjs');
  await build({
    entryPoints: [path.join(here, 'lib', 'container-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: child,
    logLevel: 'error',
  });
  const input = path.join(dir, 'input.bin');
  makeInput(input);
  console.log(`input: ${sizeMiB} MiB of random bytes in ${dir}; ${runs} runs each, medians; node ${process.version}, ${os.cpus().length} cores`);

  const node = (op: string, a: string, b: string) => {
    const m = measure(process.execPath, [child, op, a, b, keysJson, vectorNow]);
    const r = JSON.parse(m.stdout.trim().split('\n').pop()!) as { seconds: number; cpu: number; user: number };
    return { seconds: r.seconds, cpu: r.cpu, user: r.user, rssMB: m.rssMB, faults: m.faults };
  };
  const ext = (cmd: string, args: string[], out: string, env?: NodeJS.ProcessEnv) => {
    void out;
    const m = measure(cmd, args, env);
    return { seconds: m.wall, cpu: m.cpu, user: m.user, rssMB: m.rssMB, faults: m.faults };
  };

  const dd = (i: string, o: string) => ext('dd', [`if=${i}`, `of=${o}`, 'bs=1M', 'status=none'], o);
  // The CLI as a user runs it: whole process, card file scrypt included, output fsynced.
  const cliEnv = { ...process.env, SEALCODE_PASSPHRASE: 'bench passphrase, long enough' };
  const cli = (...args: string[]) => measure(process.execPath, [bin, ...args], cliEnv);
  const data = path.join(dir, 'data');
  cli('init', '--data', data);
  cli('admin', 'issue-card', '--data', data, '--name', 'Bench', '--email', 'bench@example.test', '--out', path.join(dir, 'a.card'));
  const code = (JSON.parse(cli('card', 'codes', '--card', path.join(dir, 'a.card'), '--json').stdout) as { serial: string; code: string }[])[0]!;
  cli('admin', 'redeem', code.code, '--data', data, '--email', 'd@example.test', '--out', path.join(dir, 'd.profile.json'));

  type Run = { seconds: number; cpu: number; user: number; rssMB: number; faults: number };
  const variants: { name: string; seal: (o: string) => Run; open: (i: string, o: string) => Run }[] = [
    { name: 'dd bs=1M (the kernel copy)', seal: (o) => dd(input, o), open: (i, o) => dd(i, o) },
    { name: 'plain copy (fs streams)', seal: (o) => node('copy', input, o), open: (i, o) => node('copy', i, o) },
    { name: 'node:crypto AES-GCM 1 MiB, fs streams', seal: (o) => node('aes-seal', input, o), open: (i, o) => node('aes-open', i, o) },
    { name: 'sealcode (cli/seal-files.ts)', seal: (o) => node('sc-seal', input, o), open: (i, o) => node('sc-open', i, o) },
    { name: 'sealcode, fsync before rename', seal: (o) => node('sc-seal-sync', input, o), open: (i, o) => node('sc-open-sync', i, o) },
    {
      name: 'sealcode CLI, whole process',
      seal: (o) => ext(process.execPath, [bin, 'card', 'encrypt', '--card', path.join(dir, 'a.card'), '--to', code.serial, input, '-o', o], o, cliEnv),
      open: (i, o) => ext(process.execPath, [bin, 'dedicated', 'decrypt', '--build', path.join(dir, 'd.profile.json'), i, '-o', o], o, cliEnv),
    },
  ];
  if (available('age') && available('age-keygen')) {
    const id = path.join(dir, 'age.key');
    spawnSync('age-keygen', ['-o', id], { stdio: 'ignore' });
    const recipient = /public key: (age1\w+)/.exec(fs.readFileSync(id, 'utf8'))![1]!;
    variants.push({
      name: 'age (X25519, ChaCha20-Poly1305)',
      seal: (o) => ext('age', ['-r', recipient, '-o', o, input], o),
      open: (i, o) => ext('age', ['-d', '-i', id, '-o', o, i], o),
    });
    // Like the CLI, which fsyncs its output before renaming it into place.
    variants.push({
      name: 'age, output fsynced',
      seal: (o) => ext('sh', ['-c', 'age -r "$1" -o "$2" "$3" && sync "$2"', 'sh', recipient, o, input], o),
      open: (i, o) => ext('sh', ['-c', 'age -d -i "$1" -o "$2" "$3" && sync "$2"', 'sh', id, o, i], o),
    });
  } else console.log('age: not installed, skipped');
  if (available('gpg')) {
    const home = path.join(dir, 'gnupg');
    fs.mkdirSync(home, { mode: 0o700 });
    const g = ['--homedir', home, '--batch', '--yes', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', 'bench'];
    variants.push({
      name: 'gpg --symmetric AES256, no compression',
      seal: (o) => ext('gpg', [...g, '--symmetric', '--cipher-algo', 'AES256', '--compress-algo', 'none', '-o', o, input], o),
      open: (i, o) => ext('gpg', [...g, '-o', o, '-d', i], o),
    });
  } else console.log('gpg: not installed, skipped');

  // Round-robin, so that load from elsewhere on a shared machine falls on every variant alike.
  const rows: Row[] = variants.map((v) => ({ name: v.name, seal: [], open: [], sealRss: [], openRss: [], sealCpu: [], openCpu: [], sealUser: [], openUser: [], sealFaults: [], openFaults: [] }));
  for (let i = 0; i < runs; i++) {
    for (const [k, v] of variants.entries()) {
      const row = rows[k]!;
      const sealed = path.join(dir, `out-${i}.sealed`);
      const opened = path.join(dir, `out-${i}.opened`);
      spawnSync('sync');
      const s = v.seal(sealed);
      spawnSync('sync');
      const o = v.open(sealed, opened);
      if (!same(input, opened)) throw new Error(`${v.name}: round trip differs from the input`);
      row.seal.push(fmtMBs(bytes, s.seconds));
      row.open.push(fmtMBs(bytes, o.seconds));
      row.sealRss.push(s.rssMB);
      row.openRss.push(o.rssMB);
      // CPU seconds per GB of plaintext: steadier than wall time on a shared machine.
      row.sealCpu.push(s.cpu / (bytes / 1e9));
      row.openCpu.push(o.cpu / (bytes / 1e9));
      row.sealUser.push(s.user / (bytes / 1e9));
      row.openUser.push(o.user / (bytes / 1e9));
      row.sealFaults.push(s.faults);
      row.openFaults.push(o.faults);
      rm(sealed, opened);
    }
    console.log(`  round ${i + 1}/${runs}: ` + rows.map((r) => `${r.name.split(' ')[0]} ${r.seal.at(-1)!.toFixed(0)}/${r.open.at(-1)!.toFixed(0)}`).join(', '));
  }

  const copy = rows[0]!; // dd: the disk limit
  const age = rows.find((r) => r.name.startsWith('age'));
  const gpg = rows.find((r) => r.name.startsWith('gpg'));
  const ratio = (a: number[], b: number[] | undefined): string => (b ? (median(a) / median(b)).toFixed(2) + '×' : '-');
  console.log('');
  console.log(
    table(
      ['variant', 'seal MB/s', 'open MB/s', 'seal CPU s/GB', 'open CPU s/GB', 'user s/GB (seal/open)', 'seal RSS MB', 'open RSS MB', 'page faults (seal/open)', 'vs dd (seal/open)', 'vs age', 'vs gpg'],
      rows.map((r) => [
        r.name,
        median(r.seal),
        median(r.open),
        median(r.sealCpu),
        median(r.openCpu),
        `${median(r.sealUser).toFixed(2)} / ${median(r.openUser).toFixed(2)}`,
        Math.max(...r.sealRss),
        Math.max(...r.openRss),
        `${median(r.sealFaults)} / ${median(r.openFaults)}`,
        `${ratio(r.seal, copy.seal)} / ${ratio(r.open, copy.open)}`,
        `${ratio(r.seal, age?.seal)} / ${ratio(r.open, age?.open)}`,
        `${ratio(r.seal, gpg?.seal)} / ${ratio(r.open, gpg?.open)}`,
      ]),
    ),
  );
  console.log('\nMB = 10^6 bytes of plaintext per second; node variants time the operation in-process (start-up excluded), age and gpg the whole process.\nCPU s/GB = user + system seconds of all threads per 10^9 bytes (in-process for the node rows); user s/GB leaves out the kernel share, which is\nwhere a busy shared machine adds the most (page-cache reclaim). Page faults: minor faults of the whole process. Ratios are of MB/s medians.');
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (on ${os.cpus().length} cores)`);
}

try {
  await main();
} finally {
  // gpg starts an agent that outlives the run; stop it before its home goes.
  if (fs.existsSync(path.join(dir, 'gnupg'))) spawnSync('gpgconf', ['--homedir', path.join(dir, 'gnupg'), '--kill', 'gpg-agent']);
  fs.rmSync(dir, { recursive: true, force: true });
}
