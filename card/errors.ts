// Typed errors: every failure of the format or the policy ends in one of these,
// so callers (CLI exit codes, add-on banners, gateway keywords) can tell them apart
// without parsing messages. Messages never carry secret material.

export type SealErrorCode =
  | 'MALFORMED' // input does not parse as the format
  | 'TAMPERED' // parses, but an authenticator or signature does not verify
  | 'REFUSED' // authentic, but the certification policy refuses it
  | 'EXPIRED' // authentic, but a certificate, build or code is past its expiry
  | 'REVOKED' // authentic, but the status list revokes it
  | 'NOT_FOR_US' // no recipient stanza opens with our keys
  | 'BAD_CODE' // a code fails its check characters or is unknown
  | 'BAD_PASSPHRASE' // the card file does not open with this passphrase
  | 'USAGE'; // the caller asked for something impossible (e.g. sealing to a party we cannot)

export class SealError extends Error {
  readonly code: SealErrorCode;
  /**
   * MALFORMED only: the input is no sealcode container at all (another kind of file) or
   * one of a format version this code does not read, rather than a damaged one.
   */
  readonly foreign: boolean;
  constructor(code: SealErrorCode, message: string, options?: { cause?: unknown; foreign?: boolean }) {
    super(message, options);
    this.name = 'SealError';
    this.code = code;
    this.foreign = options?.foreign ?? false;
  }
}

export const isSealError = (e: unknown, code?: SealErrorCode): e is SealError =>
  e instanceof SealError && (code === undefined || e.code === code);

export const malformed = (msg: string): SealError => new SealError('MALFORMED', msg);
export const foreignFormat = (msg: string): SealError => new SealError('MALFORMED', msg, { foreign: true });
export const tampered = (msg: string): SealError => new SealError('TAMPERED', msg);
