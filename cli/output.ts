// Printing results: human text by default, one JSON document with --json.
import { CliError, errorCodeOf, exitCodeOf } from './errors.js';

export interface OutputOptions {
  json?: boolean;
}

export function print(opts: OutputOptions, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? JSON.stringify(value, null, 2) + '\n' : human() + '\n');
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
      else process.stderr.write(`sealcode: ${message}\n`);
      if (!known && process.env.SEALCODE_DEBUG) process.stderr.write(String((err as Error)?.stack) + '\n');
      process.exitCode = exitCodeOf(err);
    }
  };
}
