// The first thing the CLI does, before it loads commander or any command module: when
// the command opens a passphrase card file named by --card and the passphrase is known
// without asking, start the file's scrypt (~0.2 s, 64 MiB, on the thread pool). The
// modules then load on this core while scrypt runs on the other; card/cardfile.ts takes
// the started key when the command opens the file with the same passphrase, salt and
// cost. Anything unexpected here (no such file, a token card, a misread argv) only means
// nothing is started: the command itself then reads and reports as it always does.
import fs from 'node:fs';
import { fromBase64 } from '../card/bytes.js';
import { parseEnvelope, passphraseBytes } from '../card/cardfile-envelope.js';
import { startScrypt } from '../card/scrypt-native.js';
import { knownPassphrase } from './passphrase.js';

/**
 * The commands that open the card file of their --card first thing, with its
 * passphrase; tests/cli/usage.test.ts checks this is every command with both options.
 */
export const OPENS_CARD = [
  'card info',
  'card codes',
  'card import-codes',
  'card encrypt',
  'card decrypt',
  'card sync',
  'card charge',
  'card pair',
  'card import-pair',
  'card statement',
  'card blind',
  'card cert',
  'card blind-part',
  'game new',
  'game move',
  'game show',
];

/** The value of option `--name` as commander reads it (`--name V` or `--name=V`, the last one wins). */
export function optionValue(argv: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === `--${name}`) value = argv[++i];
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
  }
  return value;
}

/** Starts the card file's key derivation if `argv` runs a command of OPENS_CARD; true if it did. */
export function startCardKey(argv: string[]): boolean {
  const words = argv.filter((a) => !a.startsWith('-'));
  if (!OPENS_CARD.includes(`${words[0]} ${words[1]}`)) return false;
  const file = optionValue(argv, 'card');
  if (!file) return false;
  try {
    const passphrase = knownPassphrase({ passphraseFile: optionValue(argv, 'passphrase-file') });
    if (!passphrase) return false;
    // A pipe (`--card <(…)`) can be read once only: that read is the command's.
    if (!fs.statSync(file).isFile()) return false;
    const { salt, N, r, p } = parseEnvelope(fs.readFileSync(file, 'utf8')).kdf;
    startScrypt(passphraseBytes(passphrase), fromBase64(salt), N, r, p);
    return true;
  } catch {
    return false;
  }
}
