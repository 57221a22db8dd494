// Issuing cards and selling codes (patent [0046]-[0047], Fig. 11, 14).
import {
  DAY_MS,
  SealError,
  fromBase64,
  generateCode,
  makeCard,
  newGroupKey,
  newId,
  secretHash,
  sealToCard,
  utf8,
  type CardData,
  type Code,
} from '../../card/index.js';
import type { Seller } from './seller.js';
import { EmailAddress, PersonName, parseOrRefuse } from '../validation.js';
import { recordedPublicUrl } from './settings.js';

export interface IssueCardInput {
  name: string;
  email: string;
  purchaserId?: string;
  group?: 'new' | string;
  codes?: number;
  maxCodes?: number;
  moduleKind?: string;
  validDays?: number;
  codeValidDays?: number;
  payment?: PaymentInput;
  /** The distributor's public URL, for the card's hand-over texts (default: the one `serve` last ran under). */
  distributorUrl?: string;
  now?: number;
  /** Issuing onto a token: the card id and public keys the token made (cli/token/). */
  cardId?: string;
  publicKeys?: { signPub: Uint8Array; kxPub: Uint8Array };
  /** A new group whose codes are distributor-blind. */
  blind?: boolean;
}

export interface PaymentInput {
  amountCents: number;
  currency?: string;
  reference?: string;
}

export interface IssuedCard {
  cardId: string;
  groupId: string;
  purchaserId: string;
  data: CardData;
}

export const DEFAULT_CODES = 10;
export const DEFAULT_MAX_CODES = 1000;
export const DEFAULT_CODE_VALID_DAYS = 365;

async function insertCodes(seller: Seller, cardId: string, groupId: string, n: number, validDays: number, now: number): Promise<Code[]> {
  const codes: Code[] = [];
  for (let i = 0; i < n; i++) {
    const c = generateCode(now);
    await seller.db.run(
      `INSERT INTO codes (serial, secret_hash, card_id, group_id, created_at, expires_at, state_changed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      c.serial, secretHash(c.serial, c.secret), cardId, groupId, now, now + validDays * DAY_MS, now,
    );
    codes.push(c);
  }
  return codes;
}

async function recordPayment(seller: Seller, purchaserId: string, cardId: string, kind: 'card' | 'codes', quantity: number, p: PaymentInput | undefined, now: number): Promise<string> {
  const id = newId('pay');
  await seller.db.run(
    'INSERT INTO payments (id, purchaser_id, card_id, kind, quantity, amount_cents, currency, reference, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    id, purchaserId, cardId, kind, quantity, p?.amountCents ?? 0, p?.currency ?? 'EUR', p?.reference ?? null, now,
  );
  return id;
}

export async function issueCard(seller: Seller, input: IssueCardInput): Promise<IssuedCard> {
  const now = input.now ?? Date.now();
  const n = input.codes ?? DEFAULT_CODES;
  const max = input.maxCodes ?? DEFAULT_MAX_CODES;
  // Signed into the card certificate and printed by every verify: checked here, whoever calls.
  const name = parseOrRefuse(PersonName, input.name);
  const email = parseOrRefuse(EmailAddress, input.email);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new SealError('USAGE', `codes must be between 0 and the card's maximum (${max})`);
  return seller.db.tx(async (): Promise<IssuedCard> => {
      let groupId: string;
      let groupKey: Uint8Array;
      if (!input.group || input.group === 'new') {
        groupId = newId('grp');
        groupKey = newGroupKey();
        await seller.db.run('INSERT INTO groups (id, sealed_key, created_at, blind) VALUES (?, ?, ?, ?)', groupId, seller.seal(`group:${groupId}`, groupKey), now, input.blind ? 1 : 0);
      } else {
        if (input.blind) throw new SealError('USAGE', 'only a new group can be made blind (an existing group keeps what it is)');
        groupId = input.group;
        groupKey = await seller.groupKey(groupId);
      }
      const purchaserId = input.purchaserId ?? newId('pur');
      if (!(await seller.db.get('SELECT 1 FROM purchasers WHERE id = ?', purchaserId)))
        await seller.db.run('INSERT INTO purchasers (id, name, email, created_at) VALUES (?, ?, ?, ?)', purchaserId, name, email, now);
      const card = makeCard(seller.issuerSecret(), seller.issuerPub, {
        purchaser: { id: purchaserId, name, email },
        groupId,
        groupKey,
        moduleKind: input.moduleKind ?? 'keyfile',
        validDays: input.validDays,
        now,
        cardId: input.cardId,
        publicKeys: input.publicKeys,
        blind: await groupIsBlind(seller, groupId),
      });
      await seller.db.run(
        `INSERT INTO cards (id, purchaser_id, group_id, module_kind, sign_pub, kx_pub, cert, max_codes, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        card.cert.cardId, purchaserId, groupId, card.cert.moduleKind, card.cert.signPub, card.kxPub, card.certBytes, max, now, card.cert.notAfter,
      );
      const codes = await insertCodes(seller, card.cert.cardId, groupId, n, input.codeValidDays ?? DEFAULT_CODE_VALID_DAYS, now);
      const url = input.distributorUrl ?? (await recordedPublicUrl(seller));
      if (url) card.data.distributorUrl = url;
      card.data.codes = codes.map((c) => ({ serial: c.serial, code: c.text, state: 'unused', expires: now + (input.codeValidDays ?? DEFAULT_CODE_VALID_DAYS) * DAY_MS }));
      await recordPayment(seller, purchaserId, card.cert.cardId, 'card', 1, input.payment, now);
      return { cardId: card.cert.cardId, groupId, purchaserId, data: card.data };
    });
}

/** Whether a group's codes are distributor-blind (the seller knows that, not the blind parts). */
export const groupIsBlind = async (seller: Seller, groupId: string): Promise<boolean> =>
  (await seller.db.value<number>('SELECT blind FROM groups WHERE id = ?', groupId)) === 1;

export interface CardRow {
  id: string;
  purchaser_id: string;
  group_id: string;
  module_kind: string;
  kx_pub: Uint8Array;
  sign_pub: Uint8Array;
  cert: Uint8Array;
  max_codes: number;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export async function getCard(seller: Seller, cardId: string, lock = false): Promise<CardRow> {
  const sql = 'SELECT * FROM cards WHERE id = ?';
  const row = await (lock ? seller.db.getForUpdate<CardRow>(sql, cardId) : seller.db.get<CardRow>(sql, cardId));
  if (!row) throw new SealError('USAGE', `unknown card ${cardId}`);
  return row;
}

/** Codes sold to a card travel sealed to its individual X25519 key (Fig. 14). */
export const CODE_BUNDLE_CONTEXT = 'code bundle';

export interface CodeBundle {
  sealcode: 'code-bundle';
  v: 1;
  cardId: string;
  codes: { serial: string; code: string; expires: number }[];
  issuedAt: number;
}

export interface SellCodesInput {
  cardId: string;
  count: number;
  payment?: PaymentInput;
  codeValidDays?: number;
  now?: number;
}

/** Records the sale and returns the new codes as a bundle sealed to the card. */
export async function sellCodes(seller: Seller, input: SellCodesInput): Promise<{ bundle: Uint8Array; serials: string[]; paymentId: string }> {
  const now = input.now ?? Date.now();
  if (!Number.isInteger(input.count) || input.count < 1) throw new SealError('USAGE', 'count must be a positive whole number');
  return seller.db.tx(async () => {
      // Locked: two sales to one card must not both see room under its maximum.
      const card = await getCard(seller, input.cardId, true);
      if (card.revoked_at) throw new SealError('REVOKED', `card ${card.id} is revoked`);
      if (card.expires_at < now) throw new SealError('EXPIRED', `card ${card.id} has expired`);
      const have = (await seller.db.value<number>('SELECT COUNT(*) FROM codes WHERE card_id = ? AND kind = ?', card.id, 'code'))!;
      if (have + input.count > card.max_codes)
        throw new SealError('REFUSED', `card ${card.id} may hold at most ${card.max_codes} codes (has ${have})`);
      const validDays = input.codeValidDays ?? DEFAULT_CODE_VALID_DAYS;
      const codes = await insertCodes(seller, card.id, card.group_id, input.count, validDays, now);
      const paymentId = await recordPayment(seller, card.purchaser_id, card.id, 'codes', input.count, input.payment, now);
      const bundle: CodeBundle = {
        sealcode: 'code-bundle',
        v: 1,
        cardId: card.id,
        codes: codes.map((c) => ({ serial: c.serial, code: c.text, expires: now + validDays * DAY_MS })),
        issuedAt: now,
      };
      return {
        bundle: sealToCard(new Uint8Array(card.kx_pub), CODE_BUNDLE_CONTEXT, utf8(JSON.stringify(bundle))),
        serials: codes.map((c) => c.serial),
        paymentId,
      };
    });
}

export { fromBase64 };
