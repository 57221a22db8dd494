// Pay-back (patent [0021], [0049]): every rule, amount and point value lives here.
// Credits are idempotent (UNIQUE (rule, source) in paybacks), so applying the rules
// again, from any process, never credits twice.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { newId, SealError } from '../../card/index.js';
import type { Seller } from './seller.js';

export const PaybackRules = z
  .object({
    currency: z.string().min(3).max(3).default('EUR'),
    /** Price of one code sold online (charging); recorded as the payment. */
    codePriceCents: z.number().int().min(0).default(100),
    /** Someone who redeemed a purchaser's code later buys a card. */
    inviteeCard: z.object({ amountCents: z.number().int().min(0), points: z.number().int().min(0) }).default({ amountCents: 500, points: 50 }),
    /** A purchaser buys many codes at once. */
    volume: z
      .object({ minCodes: z.number().int().min(1), centsPerCode: z.number().int().min(0), pointsPerCode: z.number().int().min(0) })
      .default({ minCodes: 50, centsPerCode: 5, pointsPerCode: 1 }),
  })
  .strict();
export type PaybackRules = z.infer<typeof PaybackRules>;

export const PAYBACK_FILE = 'payback.json';
export const DEFAULT_RULES: PaybackRules = PaybackRules.parse({});

/** DATA/payback.json overrides the defaults; a bad file is an error, never a silent default. */
export function loadRules(dataDir: string): PaybackRules {
  const path = join(dataDir, PAYBACK_FILE);
  if (!existsSync(path)) return DEFAULT_RULES;
  const r = PaybackRules.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) throw new SealError('USAGE', `${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export const RULE_INVITEE = 'invitee-card';
export const RULE_VOLUME = 'volume';

/** Credits every pay-back the rules call for that is not recorded yet. Returns how many. */
export async function applyPaybacks(seller: Seller, rules: PaybackRules, now = Date.now()): Promise<number> {
  const db = seller.db;
  return db.tx(async () => {
      const ins = (...p: [string, string, string, string, number, number, number]) =>
        db.run('INSERT INTO paybacks (id, purchaser_id, rule, source, amount_cents, points, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', ...p);
      let n = 0;
      // An invitee buys a card: matched by the email they gave at redemption, before
      // the card was issued, and confirmed (else a purchaser could redeem their own code
      // with a prospect's address and take the credit); the first purchaser whose code
      // they redeemed is credited.
      const invitees = await db.all<{ card_id: string; inviter_card: string | null }>(
          `SELECT c.id AS card_id, (
             SELECT k.card_id FROM redemptions r JOIN codes k ON k.serial = r.serial
             WHERE lower(r.redeemer_email) = lower(p.email) AND r.granted_at <= c.issued_at AND r.email_confirmed_at IS NOT NULL
             ORDER BY r.granted_at ASC LIMIT 1) AS inviter_card
           FROM cards c JOIN purchasers p ON p.id = c.purchaser_id`,
        );
      for (const i of invitees) {
        if (!i.inviter_card) continue;
        const inviter = (await db.value<string>('SELECT purchaser_id FROM cards WHERE id = ?', i.inviter_card))!;
        const own = (await db.value<string>('SELECT purchaser_id FROM cards WHERE id = ?', i.card_id))!;
        if (inviter === own) continue;
        n += await ins(newId('pb'), inviter, RULE_INVITEE, i.card_id, rules.inviteeCard.amountCents, rules.inviteeCard.points, now);
      }
      const volume = await db.all<{ id: string; purchaser_id: string; quantity: number }>(
        "SELECT id, purchaser_id, quantity FROM payments WHERE kind = 'codes' AND quantity >= ?",
        rules.volume.minCodes,
      );
      for (const p of volume)
        n += await ins(newId('pb'), p.purchaser_id, RULE_VOLUME, p.id, p.quantity * rules.volume.centsPerCode, p.quantity * rules.volume.pointsPerCode, now);
      return n;
    });
}

export interface PaybackRow {
  id: string;
  purchaser_id: string;
  purchaser_name: string;
  purchaser_email: string;
  rule: string;
  source: string;
  amount_cents: number;
  points: number;
  created_at: number;
}

export function paybackReport(seller: Seller, purchaserId?: string): Promise<PaybackRow[]> {
  return seller.db.all<PaybackRow>(
    `SELECT b.*, p.name AS purchaser_name, p.email AS purchaser_email FROM paybacks b JOIN purchasers p ON p.id = b.purchaser_id
     ${purchaserId ? 'WHERE b.purchaser_id = ?' : ''} ORDER BY b.created_at, b.id`,
    ...(purchaserId ? [purchaserId] : []),
  );
}

const csvCell = (v: string | number): string => {
  let s = String(v);
  // Cells starting with these are formulas to spreadsheet programs.
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function paybackCsv(rows: PaybackRow[], currency: string): string {
  const head = ['purchaser_id', 'purchaser_name', 'purchaser_email', 'rule', 'source', `amount_${currency}`, 'points', 'created_at'];
  const lines = rows.map((r) =>
    [r.purchaser_id, r.purchaser_name, r.purchaser_email, r.rule, r.source, (r.amount_cents / 100).toFixed(2), r.points, new Date(r.created_at).toISOString()]
      .map(csvCell)
      .join(','),
  );
  return [head.join(','), ...lines].join('\r\n') + '\r\n';
}
