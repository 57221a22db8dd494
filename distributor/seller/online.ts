// The card's online requests (Fig. 14, 27; Fig. 11, 18; claim 14): each is answered
// with a fresh single-use challenge signed by the card's individual key (or the build
// key), and runs in one transaction, so a refusal changes no sale, payment,
// pair or code.
import { randomBytes } from '@noble/hashes/utils.js';
import {
  DAY_MS,
  SealError,
  decodeCert,
  fromBase64,
  generateCode,
  newId,
  randomKey,
  sealToCard,
  secretHash,
  toBase64,
  utf8,
  verify,
} from '../../card/index.js';
import {
  CHALLENGE_TTL_MS,
  PAIR_KEY_CONTEXT,
  STATEMENT_CONTEXT,
  challengeMessage,
  type PairKeyPayload,
  type Purpose,
  type Statement,
} from '../protocol.js';
import { getCard, sellCodes, type CardRow } from './cards.js';
import { applyPaybacks, paybackReport, type PaybackRules } from './payback.js';
import type { Seller } from './seller.js';

const subjectKindOf = (p: Purpose): 'card' | 'build' => (p === 'copy-right' ? 'build' : 'card');

export interface IssuedChallenge {
  challengeId: string;
  nonce: string;
  expiresAt: number;
}

/** A fresh challenge. Unknown subjects get one too, so the answer reveals nothing. */
export async function issueChallenge(seller: Seller, purpose: Purpose, subjectId: string, now = Date.now()): Promise<IssuedChallenge> {
  const challengeId = newId('chl');
  const nonce = randomBytes(32);
  const expiresAt = now + CHALLENGE_TTL_MS;
  // Old challenges are worthless; keep the table small. (Its own statement: on
  // PostgreSQL a sweep inside the insert's transaction would make concurrent requests
  // conflict over the same old rows.)
  await seller.db.run('DELETE FROM challenges WHERE expires_at < ?', now - CHALLENGE_TTL_MS);
  await seller.db.run(
    'INSERT INTO challenges (id, subject_kind, subject_id, purpose, nonce, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    challengeId, subjectKindOf(purpose), subjectId, purpose, nonce, now, expiresAt,
  );
  return { challengeId, nonce: toBase64(nonce), expiresAt };
}

interface Answer {
  purpose: Purpose;
  challengeId: string;
  subjectId: string;
  signature: string;
  params: Record<string, string | number>;
  now: number;
}

const REFUSED = 'the card could not be certified: challenge unknown, used, expired or wrongly signed';

/**
 * Checks the answer against `signPub` (null: unknown subject, refused the same way)
 * and burns the challenge. Runs inside the caller's transaction, so a request refused
 * later leaves nothing recorded; a committed answer can never be replayed.
 */
export async function consumeChallenge(seller: Seller, a: Answer, signPub: Uint8Array | null): Promise<void> {
  const row = await seller.db.getForUpdate<{ subject_id: string; purpose: string; nonce: Uint8Array; expires_at: number; used_at: number | null }>(
    'SELECT * FROM challenges WHERE id = ?',
    a.challengeId,
  );
  if (!row || row.used_at !== null || row.subject_id !== a.subjectId || row.purpose !== a.purpose) throw new SealError('REFUSED', REFUSED);
  if (row.expires_at < a.now) throw new SealError('EXPIRED', 'the challenge has expired: ask for a new one');
  const msg = challengeMessage({ purpose: a.purpose, subjectId: a.subjectId, challengeId: a.challengeId, nonce: new Uint8Array(row.nonce), params: a.params });
  let sig: Uint8Array;
  try {
    sig = fromBase64(a.signature);
  } catch {
    throw new SealError('REFUSED', REFUSED);
  }
  if (!signPub || !verify(signPub, msg, sig)) throw new SealError('REFUSED', REFUSED);
  const burnt = await seller.db.run('UPDATE challenges SET used_at = ? WHERE id = ? AND used_at IS NULL', a.now, a.challengeId);
  if (burnt !== 1) throw new SealError('REFUSED', REFUSED);
}

export async function liveCard(seller: Seller, cardId: string, now: number): Promise<CardRow | null> {
  const row = await seller.db.get<CardRow>('SELECT * FROM cards WHERE id = ?', cardId);
  if (!row) return null;
  if (row.revoked_at) throw new SealError('REVOKED', `card ${cardId} is revoked`);
  if (row.expires_at < now) throw new SealError('EXPIRED', `card ${cardId} has expired`);
  return row;
}

export interface ChargeInput {
  challengeId: string;
  cardId: string;
  count: number;
  signature: string;
  now?: number;
}

export async function chargeCard(seller: Seller, rules: PaybackRules, input: ChargeInput) {
  const now = input.now ?? Date.now();
  return seller.db.tx(async () => {
      const card = await liveCard(seller, input.cardId, now);
      await consumeChallenge(seller, { purpose: 'charge', challengeId: input.challengeId, subjectId: input.cardId, signature: input.signature, params: { count: input.count }, now }, card && new Uint8Array(card.sign_pub));
      const sold = await sellCodes(seller, {
        cardId: input.cardId,
        count: input.count,
        payment: { amountCents: input.count * rules.codePriceCents, currency: rules.currency, reference: 'online charge' },
        now,
      });
      return { cardId: input.cardId, serials: sold.serials, bundle: toBase64(sold.bundle), paymentId: sold.paymentId };
    });
}

export interface PairInput {
  challengeId: string;
  cardId: string;
  withCardId: string;
  signature: string;
  now?: number;
}

export async function pairCards(seller: Seller, input: PairInput) {
  const now = input.now ?? Date.now();
  return seller.db.tx(async () => {
      const a = await liveCard(seller, input.cardId, now);
      await consumeChallenge(seller, { purpose: 'pair', challengeId: input.challengeId, subjectId: input.cardId, signature: input.signature, params: { withCardId: input.withCardId }, now }, a && new Uint8Array(a.sign_pub));
      const b = await liveCard(seller, input.withCardId, now);
      if (!a || !b) throw new SealError('USAGE', `unknown card ${input.withCardId}`);
      if (a.id === b.id) throw new SealError('USAGE', 'a card cannot pair with itself');
      const pairId = newId('pair');
      const payload: PairKeyPayload = { sealcode: 'pair-key', v: 1, pairId, cardA: a.id, cardB: b.id, key: toBase64(randomKey()) };
      const bytes = utf8(JSON.stringify(payload));
      await seller.db.run('INSERT INTO pairs (id, card_a, card_b, created_at) VALUES (?, ?, ?, ?)', pairId, a.id, b.id, now);
      return {
        pairId,
        cardA: a.id,
        cardB: b.id,
        forA: toBase64(sealToCard(new Uint8Array(a.kx_pub), PAIR_KEY_CONTEXT, bytes)),
        forB: toBase64(sealToCard(new Uint8Array(b.kx_pub), PAIR_KEY_CONTEXT, bytes)),
      };
    });
}

export async function cardStatement(seller: Seller, rules: PaybackRules, input: { challengeId: string; cardId: string; signature: string; now?: number }) {
  const now = input.now ?? Date.now();
  await applyPaybacks(seller, rules, now);
  return seller.db.tx(async () => {
      const card = await liveCard(seller, input.cardId, now);
      await consumeChallenge(seller, { purpose: 'statement', challengeId: input.challengeId, subjectId: input.cardId, signature: input.signature, params: {}, now }, card && new Uint8Array(card.sign_pub));
      const c = await getCard(seller, input.cardId);
      const rows = await paybackReport(seller, c.purchaser_id);
      const st: Statement = {
        sealcode: 'statement',
        v: 1,
        cardId: c.id,
        purchaserId: c.purchaser_id,
        issuedAt: now,
        currency: rules.currency,
        entries: rows.map((r) => ({ rule: r.rule, source: r.source, amountCents: r.amount_cents, points: r.points, at: r.created_at })),
        totalCents: rows.reduce((s, r) => s + r.amount_cents, 0),
        totalPoints: rows.reduce((s, r) => s + r.points, 0),
      };
      return { cardId: c.id, sealed: toBase64(sealToCard(new Uint8Array(c.kx_pub), STATEMENT_CONTEXT, utf8(JSON.stringify(st)))) };
    });
}

export interface CopyRightInput {
  challengeId: string;
  buildId: string;
  copies: number;
  signature: string;
  now?: number;
  validDays?: number;
}

/** A copy code for K more builds of the same key (claim 14, Fig. 3). */
export async function grantCopyRight(seller: Seller, input: CopyRightInput) {
  const now = input.now ?? Date.now();
  return seller.db.tx(async () => {
      const r = await seller.db.get<{ serial: string; build_cert: Uint8Array; copy_of: string | null; revoked_at: number | null; build_expires_at: number }>(
        'SELECT * FROM redemptions WHERE build_id = ?',
        input.buildId,
      );
      const cert = r ? decodeCert(new Uint8Array(r.build_cert)) : null;
      await consumeChallenge(seller, { purpose: 'copy-right', challengeId: input.challengeId, subjectId: input.buildId, signature: input.signature, params: { copies: input.copies }, now }, cert && cert.type === 'build' ? cert.signPub : null);
      if (!r) throw new SealError('REFUSED', REFUSED);
      if (r.revoked_at) throw new SealError('REVOKED', 'this build has been revoked');
      if (r.build_expires_at < now) throw new SealError('EXPIRED', 'this build has expired');
      if (r.copy_of) throw new SealError('REFUSED', 'a copy cannot hand out further copy rights');
      // Locked: two copy-right requests of one code's builds must not both see the same rights left.
      const code = (await seller.db.getForUpdate<{ card_id: string; group_id: string; state: string; copy_rights: number; build_valid_days: number }>(
        'SELECT * FROM codes WHERE serial = ?',
        r.serial,
      ))!;
      if (code.state === 'revoked') throw new SealError('REVOKED', "this build's code has been revoked");
      const given = (await seller.db.value<number>(
        "SELECT COALESCE(SUM(c.copies_allowed), 0) FROM codes c JOIN redemptions p ON p.build_id = c.parent_build_id WHERE c.kind = 'copy' AND p.serial = ?",
        r.serial,
      ))!;
      if (given + input.copies > code.copy_rights)
        throw new SealError('REFUSED', `this code allows ${code.copy_rights} copies in all; ${Math.max(0, code.copy_rights - given)} remain`);
      const c = generateCode(now);
      const expires = now + (input.validDays ?? 30) * DAY_MS;
      await seller.db.run(
        `INSERT INTO codes (serial, secret_hash, card_id, group_id, kind, copies_allowed, parent_build_id, build_valid_days, created_at, expires_at, state_changed_at, copy_rights)
         VALUES (?, ?, ?, ?, 'copy', ?, ?, ?, ?, ?, ?, 0)`,
        c.serial, secretHash(c.serial, c.secret), code.card_id, code.group_id, input.copies, input.buildId, code.build_valid_days, now, expires, now,
      );
      return { serial: c.serial, code: c.text, copies: input.copies, parentBuildId: input.buildId, expires };
    });
}

export { fromBase64 };
