// On a terminal (a real pseudo-terminal from util-linux `script`): the passphrase is
// prompted for without echo, and big files show a progress bar on stderr.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, ensureBuilt, sealcode, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-tty-'));
const p = (name: string): string => path.join(dir, name);
const SECRET = 'tty passphrase 8x!';
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI on a pseudo-terminal; answers the passphrase prompt once it appears. */
function onTerminal(args: string[], answer?: string): Promise<{ code: number; out: string; afterPrompt: string }> {
  const cmd = [process.execPath, path.join(ROOT, 'bin/sealcode.js'), ...args].map(q).join(' ');
  const env = { ...process.env };
  delete env.SEALCODE_PASSPHRASE;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let promptAt = -1;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (promptAt < 0 && /Passphrase for/.test(out)) {
        promptAt = out.length;
        // Give the CLI a moment to switch the terminal to raw mode after printing the prompt.
        setTimeout(() => child.stdin.write((answer ?? '') + '\r'), 300);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, afterPrompt: promptAt < 0 ? '' : out.slice(promptAt) }));
  });
}

beforeAll(async () => {
  ensureBuilt();
  expect((await sealcode(['init', '--data', p('data')])).code).toBe(0);
  const r = await sealcode(['admin', 'issue-card', '--name', 'T', '--email', 't@example.test', '--codes', '1', '--out', p('t.card'), '--data', p('data')], {
    env: { SEALCODE_PASSPHRASE: SECRET },
  });
  expect(r.code, show(r)).toBe(0);
  // 60 MB, sparse: over the progress-bar threshold without costing disk.
  fs.closeSync(fs.openSync(p('big.bin'), 'w'));
  fs.truncateSync(p('big.bin'), 60 * 1024 * 1024);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('on a terminal', () => {
  it('prompts for the passphrase without echo, and shows a progress bar for a big file', async () => {
    const r = await onTerminal(['card', 'encrypt', '--card', p('t.card'), '--to', 'group', p('big.bin')], SECRET);
    expect(r.code, r.out).toBe(0);
    expect(r.afterPrompt).not.toContain(SECRET);
    expect(r.out).toMatch(/sealing \[/);
    expect(r.out).toMatch(/100%/);
    expect(fs.statSync(p('big.bin.seal')).size).toBeGreaterThan(60 * 1024 * 1024);
  });

  it('a wrong passphrase typed at the prompt is a clear error (1)', async () => {
    const r = await onTerminal(['card', 'info', '--card', p('t.card')], 'not it');
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/wrong passphrase/);
    expect(r.afterPrompt).not.toContain('not it');
  });

  it('off a terminal, a big file gets no progress bar', async () => {
    const r = await sealcode(['card', 'encrypt', '--card', p('t.card'), '--to', 'group', p('big.bin'), '-o', p('big2.seal')], { env: { SEALCODE_PASSPHRASE: SECRET } });
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toBe('');
  });
});
