// Card passphrases: --passphrase-file, else SEALCODE_PASSPHRASE, else a prompt without
// echo when on a terminal. They are never printed, logged or put in an error message.
import fs from 'node:fs';
import type { Command } from 'commander';
import { CliError, EXIT } from './errors.js';

export interface PassphraseOptions {
  passphraseFile?: string;
  /** For a card whose secrets are in a token (cli/pin.ts). */
  pinFile?: string;
}

export function passphraseOption(cmd: Command): Command {
  return cmd
    .option('--passphrase-file <file>', "read the card passphrase from this file's first line (default: $SEALCODE_PASSPHRASE, or a prompt)")
    .option('--pin-file <file>', "for a card in a token: read the token PIN from this file's first line (default: $SEALCODE_PIN, or a prompt)");
}

/** Reads a line from the terminal with echo off. */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let s = '';
    const finish = (): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n' || c === '\u0004') {
          finish();
          resolve(s);
          return;
        }
        if (c === '\u0003') {
          finish();
          reject(new CliError('cancelled', EXIT.other));
          return;
        }
        if (c === '\u007f' || c === '\b') s = s.slice(0, -1);
        else s += c;
      }
    };
    stdin.on('data', onData);
  });
}

const onTerminal = (): boolean => Boolean(process.stdin.isTTY && process.stderr.isTTY);

/** A secret kept in a file: its first line, which must not be empty. */
export function firstLineOf(file: string, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`cannot read the ${what} file ${file}`, EXIT.usage, 'USAGE');
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw new CliError(`the ${what} file ${file} is empty`, EXIT.usage, 'USAGE');
  return line;
}

/** The passphrase given without asking: --passphrase-file, else $SEALCODE_PASSPHRASE. */
export function knownPassphrase(opts: PassphraseOptions): string | undefined {
  if (opts.passphraseFile) return firstLineOf(opts.passphraseFile, 'passphrase');
  return process.env.SEALCODE_PASSPHRASE || undefined;
}

/**
 * The passphrase of an existing card, or (with `confirm`) of a card being created,
 * which is asked twice on a terminal.
 */
export async function getPassphrase(opts: PassphraseOptions, what: string, confirm = false): Promise<string> {
  const known = knownPassphrase(opts);
  if (known) return known;
  if (!onTerminal())
    throw new CliError(`a passphrase is needed for ${what}: set SEALCODE_PASSPHRASE or pass --passphrase-file`, EXIT.usage, 'USAGE');
  const p = await promptHidden(`Passphrase for ${what}: `);
  if (!p) throw new CliError('an empty passphrase is not accepted', EXIT.usage, 'USAGE');
  if (confirm && (await promptHidden('Repeat it: ')) !== p) throw new CliError('the two passphrases differ', EXIT.usage, 'USAGE');
  return p;
}
