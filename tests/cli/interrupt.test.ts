// Ctrl-C while a big file is being opened leaves neither the output nor the temporary
// file: the file path's loop gives the event loop a turn every few chunks, so the
// signal is handled before the output is renamed into place, not after.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCard, newGroupKey, newSigningKey, sealCardFile } from '../../card/index.js';
import { PASS, ROOT, ensureBuilt, sealcode, show } from './harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-cli-int-'));
const p = (name: string): string => path.join(dir, name);
const MiB = 1 << 20;
const SIZE = 256 * MiB; // long enough to still be running when the temporary file shows up

beforeAll(async () => {
  ensureBuilt();
  const issuer = newSigningKey();
  const card = makeCard(issuer.secretKey, issuer.publicKey, {
    purchaser: { id: 'pur_int', name: 'Interrupted', email: 'int@example.test' },
    groupId: 'grp_int',
    groupKey: newGroupKey(),
    codes: 1,
  });
  fs.writeFileSync(p('c.card'), await sealCardFile(card.data, PASS));
  const fd = fs.openSync(p('big.bin'), 'w');
  const piece = Buffer.alloc(MiB, 7);
  for (let o = 0; o < SIZE; o += MiB) fs.writeSync(fd, piece);
  fs.closeSync(fd);
  const r = await sealcode(['card', 'encrypt', '--card', p('c.card'), '--to', 'group', p('big.bin'), '-o', p('big.seal')]);
  expect(r.code, show(r)).toBe(0);
  fs.rmSync(p('big.bin'));
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('SIGINT during card decrypt: exit 130, no output, no temporary file', async () => {
  const out = p('opened.bin');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/sealcode.js'), 'card', 'decrypt', '--card', p('c.card'), p('big.seal'), '-o', out], {
    env: { ...process.env, SEALCODE_PASSPHRASE: PASS },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  // Interrupt once plaintext is being written to the temporary file.
  const part = (): string | undefined => fs.readdirSync(dir).find((f) => f.endsWith('.part') && fs.statSync(p(f)).size > 0);
  while (!done && !part()) await new Promise((r) => setTimeout(r, 2));
  expect(done, 'the decrypt finished before the temporary file was seen').toBe(false);
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(fs.existsSync(out)).toBe(false);
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
}, 300_000);
