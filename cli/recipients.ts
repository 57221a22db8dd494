// `--to` for a card: a code serial (card/codes.ts isSerial) or a full code, `group` for
// the card's own group, `pair:PAIRID` for a seller-delivered pair key, anything else an ID.
import { isSerial, parseCode } from '../card/codes.js';
import type { CardData } from '../card/cardfile.js';
import type { RecipientSpec } from '../card/stanza.js';
import { CliError, EXIT } from './errors.js';

const usage = (m: string): CliError => new CliError(m, EXIT.usage, 'USAGE');

export function validId(id: string): string {
  if (!id || id.length > 64 || /[\s\p{Cc}]/u.test(id)) throw usage(`an ID must be 1 to 64 characters without spaces: ${JSON.stringify(id.slice(0, 70))}`);
  if (isSerial(id)) throw usage(`${id} reads as a code serial, so it cannot serve as an ID`);
  if (id === 'group' || /^(pair|group):/.test(id)) throw usage(`${id} is reserved and cannot serve as an ID`);
  return id;
}

export function recipientFor(to: string, card: CardData): RecipientSpec {
  if (isSerial(to)) return { kind: 'code', label: to };
  if (/^SC-/i.test(to)) return { kind: 'code', label: parseCode(to).serial };
  if (to === 'group' || to === `group:${card.groupId}`) return { kind: 'group', label: card.groupId };
  if (to.startsWith('group:')) throw usage(`this card belongs to group ${card.groupId}; it cannot seal for ${to.slice(6)}`);
  if (to.startsWith('pair:')) {
    const id = to.slice(5);
    if (!card.pairs.some((p) => p.pairId === id))
      throw usage(`this card holds no pair key ${id}${card.pairs.length ? ` (it holds: ${card.pairs.map((p) => p.pairId).join(', ')})` : ''}`);
    return { kind: 'pair', label: id };
  }
  return { kind: 'id', label: validId(to) };
}

export function recipientsFor(tos: string[], card: CardData): RecipientSpec[] {
  const out: RecipientSpec[] = [];
  for (const t of tos) {
    const r = recipientFor(t.trim(), card);
    if (!out.some((o) => o.kind === r.kind && o.label === r.label)) out.push(r);
  }
  return out;
}
