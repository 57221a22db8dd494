// The CLI starts a card file's scrypt before loading its modules only for a command that
// opens that file with a passphrase known without asking; anything else starts nothing
// and leaves the errors to the command itself.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { optionValue, startCardKey } from '../../cli/early-card-key.js';
import { openCardFile, sealCardFile } from '../../card/cardfile.js';
import { useNativeScrypt } from '../../card/scrypt-node.js';
import { makeWorld } from '../support/world.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-early-key-'));
const card = path.join(dir, 'a.card');
const passFile = path.join(dir, 'pass.txt');
const saved = process.env.SEALCODE_PASSPHRASE;
const w = makeWorld();

beforeAll(async () => {
  useNativeScrypt();
  fs.writeFileSync(card, await sealCardFile(w.A.data, 'correct horse', 1024));
  fs.writeFileSync(passFile, 'correct horse\n');
});
afterEach(() => {
  if (saved === undefined) delete process.env.SEALCODE_PASSPHRASE;
  else process.env.SEALCODE_PASSPHRASE = saved;
});

describe('the early card key', () => {
  it('reads --card and --passphrase-file as commander does: both spellings, the last one wins, nothing after --', () => {
    expect(optionValue(['card', 'info', '--card', 'a', '--card=b'], 'card')).toBe('b');
    expect(optionValue(['card', 'info', '--card=a', '--card', 'b'], 'card')).toBe('b');
    expect(optionValue(['card', 'encrypt', '--card', 'a', '--', '--card', 'b'], 'card')).toBe('a');
    expect(optionValue(['card', 'info', '--cards', 'a'], 'card')).toBeUndefined();
  });

  it('starts for a card-opening command with $SEALCODE_PASSPHRASE or --passphrase-file, and the command opens with it', async () => {
    process.env.SEALCODE_PASSPHRASE = 'correct horse';
    expect(startCardKey(['card', 'info', '--card', card])).toBe(true);
    expect(await openCardFile(fs.readFileSync(card, 'utf8'), 'correct horse')).toEqual(w.A.data);
    delete process.env.SEALCODE_PASSPHRASE;
    expect(startCardKey(['card', 'encrypt', `--card=${card}`, '--passphrase-file', passFile, 'x'])).toBe(true);
    expect(await openCardFile(fs.readFileSync(card, 'utf8'), 'correct horse')).toEqual(w.A.data);
  });

  it('a key started with the right passphrase never opens the file for another one', async () => {
    process.env.SEALCODE_PASSPHRASE = 'correct horse';
    expect(startCardKey(['card', 'info', '--card', card])).toBe(true);
    await expect(openCardFile(fs.readFileSync(card, 'utf8'), 'correct hors!')).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    expect(await openCardFile(fs.readFileSync(card, 'utf8'), 'correct horse')).toEqual(w.A.data);
  });

  it('starts nothing for other commands, without a passphrase, or for a file that is not a passphrase card', () => {
    process.env.SEALCODE_PASSPHRASE = 'correct horse';
    expect(startCardKey(['card', 'host', '--card', card])).toBe(false);
    expect(startCardKey(['admin', 'sell-codes', '--card', card])).toBe(false);
    expect(startCardKey(['card', 'info'])).toBe(false);
    expect(startCardKey(['card', 'info', '--card', path.join(dir, 'missing.card')])).toBe(false);
    fs.writeFileSync(path.join(dir, 'token.card'), JSON.stringify({ sealcode: 'card', v: 1, kdf: { name: 'pkcs11-hmac', salt: 'AA' }, token: { module: 'm', label: 'l', cardId: 'c' } }));
    expect(startCardKey(['card', 'info', '--card', path.join(dir, 'token.card')])).toBe(false);
    const env = JSON.parse(fs.readFileSync(card, 'utf8'));
    fs.writeFileSync(path.join(dir, 'costly.card'), JSON.stringify({ ...env, kdf: { ...env.kdf, N: 1 << 23 } }));
    expect(startCardKey(['card', 'info', '--card', path.join(dir, 'costly.card')])).toBe(false);
    expect(startCardKey(['card', 'info', '--card', card, '--passphrase-file', path.join(dir, 'missing.txt')])).toBe(false);
    delete process.env.SEALCODE_PASSPHRASE;
    expect(startCardKey(['card', 'info', '--card', card])).toBe(false);
  });

  it('leaves a card file given as a pipe unread, for the command to read once', async () => {
    process.env.SEALCODE_PASSPHRASE = 'correct horse';
    const fifo = path.join(dir, 'card.fifo');
    execFileSync('mkfifo', [fifo]);
    // Another process writes the card into the pipe once: were the pipe read here, this
    // read would take the card's bytes and leave the command's read none.
    const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', card, fifo]);
    const wrote = new Promise((resolve) => writer.on('close', resolve));
    expect(startCardKey(['card', 'info', '--card', fifo])).toBe(false);
    const text = await fs.promises.readFile(fifo, 'utf8');
    expect(await wrote).toBe(0);
    expect(await openCardFile(text, 'correct horse')).toEqual(w.A.data);
  });
});
