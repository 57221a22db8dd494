// Printing results: human text by default, one JSON document with --json.
import { CliError, errorCodeOf, exitCodeOf } from './errors.js';
import { replaceControlChars } from '../distributor/control-chars.js';

const visible = (c: string): string => {
  const n = c.codePointAt(0)!;
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/**
 * A name, email or file name from a certificate or a sealed file, fit for a terminal:
 * control and bidi characters (ESC, BEL, newline, U+202E...) are shown as \xNN / \uNNNN
 * instead of acting on the terminal.
 */
export const termSafe = (s: string): string => replaceControlChars(s, visible);

// Whole human output keeps its own line breaks and tabs; anything else that slipped a
// field-level termSafe() is still shown, not obeyed.
const termSafeText = (s: string): string => replaceControlChars(s, (c) => (c === '\n' || c === '\t' ? c : visible(c)));

export interface OutputOptions {
  json?: boolean;
}

export function print(opts: OutputOptions, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? JSON.stringify(value, null, 2) + '\n' : termSafeText(human()) + '\n');
}

/**
 * Wraps a command action: errors become a message on stderr (or a JSON error object
 * with --json) and the contract's exit code; never a stack trace for expected failures.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const cmd = args[args.length - 1] as { optsWithGlobals?: () => OutputOptions } | undefined;
      const json = cmd?.optsWithGlobals?.().json ?? false;
      const message = err instanceof Error ? err.message : String(err);
      const known = err instanceof CliError || errorCodeOf(err) !== 'ERROR';
      if (json) process.stdout.write(JSON.stringify({ error: { code: errorCodeOf(err), message } }) + '\n');
      else process.stderr.write(`sealcode: ${termSafeText(message)}\n`);
      if (!known && process.env.SEALCODE_DEBUG) process.stderr.write(String((err as Error)?.stack) + '\n');
      process.exitCode = exitCodeOf(err);
    }
  };
}
