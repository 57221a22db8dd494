// The one verdict of a message, from what the MIME walk found: the result of every
// sealcode attachment, how many attachment-like parts were not sealed, and whether a
// limit stopped the walk. Pure, so every rule and its order can be tested alone.
// docs/gateway.md states the same rules; keep the two in step.

export type SealLabel = 'certified' | 'uncertified' | 'tampered';
export type MessageLabel = SealLabel | 'partial';
export type LimitKind = 'parts' | 'depth' | 'size' | 'header';

export interface SealResult {
  label: SealLabel;
  reason: string;
  code?: string;
}

export interface Limits {
  /** MIME entities examined per message (multiparts, forwarded messages and leaves). */
  maxParts: number;
  /** Nesting of multiparts and forwarded messages. */
  maxDepth: number;
  /** Bytes of one message. */
  maxBytes: number;
  /** Bytes of one header block. */
  maxHeaderBytes: number;
}

export interface WalkFindings {
  seals: SealResult[];
  /** Attachment-like parts that are not sealcode containers. */
  unsealed: number;
  /** The first limit reached; nothing after it was examined. */
  exceeded?: LimitKind;
}

export interface MessageVerdict {
  label: MessageLabel;
  reason: string;
  /** Index in `seals` of the result that decided, when one did. */
  decidedBy?: number;
}

export const TOO_COMPLEX = 'too complex to check';

export function limitReason(kind: LimitKind, l: Limits): string {
  switch (kind) {
    case 'parts':
      return `${TOO_COMPLEX}: more than ${l.maxParts} MIME parts`;
    case 'depth':
      return `${TOO_COMPLEX}: nested more than ${l.maxDepth} levels deep`;
    case 'size':
      return `${TOO_COMPLEX}: larger than ${l.maxBytes} bytes`;
    case 'header':
      return `${TOO_COMPLEX}: a header block larger than ${l.maxHeaderBytes} bytes`;
  }
}

/**
 * Precedence: tampered, then a reached limit, then a refused seal, then partial, then
 * certified. Undefined: no sealcode attachment and no limit reached (plain mail, left
 * untouched).
 */
export function decide(f: WalkFindings, limits: Limits): MessageVerdict | undefined {
  const tampered = f.seals.findIndex((s) => s.label === 'tampered');
  if (tampered >= 0) return { label: 'tampered', reason: f.seals[tampered]!.reason, decidedBy: tampered };
  // Whatever lies beyond a limit was not examined: never certified, never skipped.
  if (f.exceeded) return { label: 'uncertified', reason: limitReason(f.exceeded, limits) };
  const refused = f.seals.findIndex((s) => s.label === 'uncertified');
  if (refused >= 0) return { label: 'uncertified', reason: f.seals[refused]!.reason, decidedBy: refused };
  if (f.seals.length === 0) return undefined;
  if (f.unsealed > 0)
    return {
      label: 'partial',
      reason: `${f.seals.length} certified seal(s) beside ${f.unsealed} unsealed attachment(s)`,
    };
  return { label: 'certified', reason: f.seals.length === 1 ? f.seals[0]!.reason : `all ${f.seals.length} attachments are certified seals` };
}
