// Exit codes are part of the CLI contract (README): scripts and the other components
// branch on them.
import { isSealError, type SealErrorCode } from '../card/errors.js';

export const EXIT = { ok: 0, other: 1, usage: 2, refused: 3, malformed: 4 } as const;

const BY_CODE: Record<SealErrorCode, number> = {
  MALFORMED: EXIT.malformed,
  TAMPERED: EXIT.malformed,
  REFUSED: EXIT.refused,
  EXPIRED: EXIT.refused,
  REVOKED: EXIT.refused,
  NOT_FOR_US: EXIT.refused,
  BAD_CODE: EXIT.refused,
  BAD_PASSPHRASE: EXIT.other,
  USAGE: EXIT.usage,
};

/** A failure the CLI reports with its own exit code and message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.other,
    readonly code = 'ERROR',
  ) {
    super(message);
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (isSealError(err)) return BY_CODE[err.code];
  return EXIT.other;
}

export function errorCodeOf(err: unknown): string {
  if (err instanceof CliError) return err.code;
  if (isSealError(err)) return err.code;
  return 'ERROR';
}
