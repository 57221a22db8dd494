// The online protocol shared by the distributor and the CLI: what a card (or a
// dedicated build) signs to answer a challenge, and the shapes of the JSON bodies.
// The signed message names the purpose, the subject, the challenge and a hash of the
// request's parameters, so one answer cannot be replayed for another request.
import { z } from 'zod';
import { concat, sha256, utf8 } from '../card/index.js';

export const API = '/api/v1';
export const CHALLENGE_TTL_MS = 2 * 60 * 1000;
export const PURPOSES = ['charge', 'pair', 'statement', 'copy-right', 'code-states'] as const;
export type Purpose = (typeof PURPOSES)[number];
export const PAIR_KEY_CONTEXT = 'pair key';
export const STATEMENT_CONTEXT = 'statement';

const DOMAIN = utf8('sealcode online v1\0');

/** JSON with sorted keys: both ends hash the same bytes for the same parameters. */
export function canonicalJson(v: Record<string, string | number>): string {
  return JSON.stringify(Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])));
}

export interface ChallengeAnswer {
  purpose: Purpose;
  subjectId: string;
  challengeId: string;
  nonce: Uint8Array;
  params: Record<string, string | number>;
}

export function challengeMessage(a: ChallengeAnswer): Uint8Array {
  const z0 = Uint8Array.of(0);
  return concat(DOMAIN, utf8(a.purpose), z0, utf8(a.subjectId), z0, utf8(a.challengeId), z0, a.nonce, sha256(utf8(canonicalJson(a.params))));
}

const id = z.string().min(3).max(64).regex(/^[A-Za-z0-9_-]+$/);
const b64 = z.string().max(4096).regex(/^[A-Za-z0-9+/=_-]*$/);
// Answers may carry large bundles (thousands of codes); requests stay small.
const b64Long = z.string().max(16 * 1024 * 1024).regex(/^[A-Za-z0-9+/=_-]*$/);

export const ChallengeRequest = z.object({ purpose: z.enum(PURPOSES), subjectId: id }).strict();
export const ChallengeResponse = z.object({ challengeId: id, nonce: b64, expiresAt: z.number() });

const answered = { challengeId: id, subjectId: id, signature: b64 };
export const ChargeRequest = z.object({ ...answered, count: z.number().int().min(1).max(10_000) }).strict();
export const PairRequest = z.object({ ...answered, withCardId: id }).strict();
export const StatementRequest = z.object({ ...answered }).strict();
export const CopyRightRequest = z.object({ ...answered, copies: z.number().int().min(1).max(1000) }).strict();
export const CodeStatesRequest = z.object({ ...answered }).strict();

export const ChargeResponse = z.object({ cardId: id, serials: z.array(z.string()), bundle: b64Long, paymentId: id });
export const PairResponse = z.object({
  pairId: id,
  cardA: id,
  cardB: id,
  forA: b64,
  forB: b64,
});
export const StatementResponse = z.object({ cardId: id, sealed: b64Long });
/** The distributor's word on each code of one card (serials only: no code secret travels). */
export const CodeStatesResponse = z.object({
  cardId: id,
  at: z.number(),
  codes: z.array(z.object({ serial: z.string().max(64), state: z.enum(['unused', 'in_use', 'already_used', 'revoked']) })).max(100_000),
});
export const CopyRightResponse = z.object({ serial: z.string(), code: z.string(), copies: z.number(), parentBuildId: id, expires: z.number() });

/** What a pair key carries, sealed to each card with PAIR_KEY_CONTEXT. */
export interface PairKeyPayload {
  sealcode: 'pair-key';
  v: 1;
  pairId: string;
  cardA: string;
  cardB: string;
  key: string; // base64, 32 bytes
}

/** The file card A hands to card B (`sealcode card import-pair`). */
export interface PairKeyFile {
  sealcode: 'pair-key-file';
  v: 1;
  pairId: string;
  forCard: string;
  fromCard: string;
  sealed: string; // base64 sealToCard(B.kx, PAIR_KEY_CONTEXT, PairKeyPayload)
}

export interface Statement {
  sealcode: 'statement';
  v: 1;
  cardId: string;
  purchaserId: string;
  issuedAt: number;
  currency: string;
  entries: { rule: string; source: string; amountCents: number; points: number; at: number }[];
  totalCents: number;
  totalPoints: number;
}
