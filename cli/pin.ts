// Token PINs: --pin-file, else SEALCODE_PIN, else a prompt without echo on a terminal.
// Like passphrases they are never printed, logged or put in an error message.
import { CliError, EXIT } from './errors.js';
import { firstLineOf, promptHidden } from './passphrase.js';

export interface PinOptions {
  pinFile?: string;
}

export async function getPin(opts: PinOptions, what: string): Promise<string> {
  if (opts.pinFile) return firstLineOf(opts.pinFile, 'PIN');
  if (process.env.SEALCODE_PIN) return process.env.SEALCODE_PIN;
  if (!(process.stdin.isTTY && process.stderr.isTTY))
    throw new CliError(`a PIN is needed for ${what}: set SEALCODE_PIN or pass --pin-file`, EXIT.usage, 'USAGE');
  const p = await promptHidden(`PIN for ${what}: `);
  if (!p) throw new CliError('an empty PIN is not accepted', EXIT.usage, 'USAGE');
  return p;
}
