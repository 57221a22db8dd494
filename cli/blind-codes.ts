// The codes a card hands over: for a blind group, the seller's code followed by the
// blind part b(label) the card derives from B (card/blind.ts). The distributor knows
// only the first half; the key a blind code's build talks with needs both.
import { SealError } from '../card/errors.js';
import { blindCharsOf, blindMessage, formatBlindCode, formatBlindPart } from '../card/blind.js';
import type { KeyKind } from '../card/certs.js';
import type { CardCode } from '../card/cardfile.js';
import type { OpenedCard } from './card-file.js';

export async function blindPartFor(card: OpenedCard, kind: KeyKind, label: string): Promise<string> {
  const mac = await card.keys.blindMac(blindMessage(kind, label));
  if (!mac) throw new SealError('REFUSED', "this card's group uses blind codes but the card holds no blind secret yet: run `sealcode card blind` (or `card blind import`) before handing out codes");
  return formatBlindPart(kind, label, blindCharsOf(mac));
}

/**
 * The text to hand over for one code: as it is for a group without blind codes; with
 * the blind part of its serial, or of `id` for a code meant for ID mode, otherwise.
 */
export async function handOverText(card: OpenedCard, c: Pick<CardCode, 'serial' | 'code'>, id?: string): Promise<string> {
  if (!card.data.blind) return c.code;
  return formatBlindCode(c.code, await blindPartFor(card, id ? 'id' : 'code', id ?? c.serial));
}
