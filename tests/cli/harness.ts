// Runs the built CLI (`node bin/sealcode.js`) as a real process. `npm test` builds
// first; when run alone (npx vitest run tests/cli) a stale build is rebuilt once,
// under a lock, so parallel test files do not race tsc.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/sealcode.js');
const MAIN = path.join(ROOT, 'build/cli/main.js');
export const PASS = 'correct horse battery staple';

function newestSource(dir: string): number {
  let t = 0;
  if (!fs.existsSync(dir)) return t;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(): void {
  const stale = (): boolean =>
    !fs.existsSync(MAIN) || ['card', 'game', 'cli', 'distributor'].some((d) => newestSource(path.join(ROOT, d)) > fs.statSync(MAIN).mtimeMs);
  if (!stale()) return;
  try {
    execFileSync('flock', ['/tmp/sealcode-cli-build.lock', 'npx', 'tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // tsc still emits on type errors elsewhere in the tree; what matters is the entry point.
  }
  if (!fs.existsSync(MAIN)) throw new Error('the CLI is not built: run `npm run build`');
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  /** Node options before the script (e.g. --import). */
  nodeArgs?: string[];
}

export function sealcode(args: string[], o: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, SEALCODE_PASSPHRASE: PASS, ...o.env })) if (v !== undefined) env[k] = v;
    delete env.SEALCODE_DATA;
    if (o.env?.SEALCODE_DATA) env.SEALCODE_DATA = o.env.SEALCODE_DATA;
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), BIN, ...args], { cwd: o.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

/** Runs and parses stdout as JSON, failing with the whole output when it does not parse. */
export async function sealcodeJson<T = any>(args: string[], o: RunOptions = {}): Promise<{ run: Run; json: T }> {
  const run = await sealcode([...args, '--json'], o);
  try {
    return { run, json: JSON.parse(run.stdout) as T };
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

export const show = (r: Run): string => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
