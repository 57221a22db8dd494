// The states of one card's codes as the distributor knows them (unused, in use, already
// used, revoked), for the card to refresh its own file: the card answers a single-use
// challenge with its individual key, as for charging. Serials and states only; a
// refused request reads nothing and burns nothing.
import { consumeChallenge, liveCard } from './online.js';
import type { Seller } from './seller.js';

export interface CodeStatesInput {
  challengeId: string;
  cardId: string;
  signature: string;
  now?: number;
}

export interface CodeStates {
  cardId: string;
  at: number;
  codes: { serial: string; state: 'unused' | 'in_use' | 'already_used' | 'revoked' }[];
}

export async function codeStates(seller: Seller, input: CodeStatesInput): Promise<CodeStates> {
  const now = input.now ?? Date.now();
  return seller.db.tx(async (): Promise<CodeStates> => {
    const card = await liveCard(seller, input.cardId, now);
    await consumeChallenge(seller, { purpose: 'code-states', challengeId: input.challengeId, subjectId: input.cardId, signature: input.signature, params: {}, now }, card && new Uint8Array(card.sign_pub));
    // Copy codes belong to a build, not to the card's stock: the card file never holds them.
    const codes = await seller.db.all<CodeStates['codes'][number]>(
      "SELECT serial, state FROM codes WHERE card_id = ? AND kind = 'code' ORDER BY created_at, serial",
      input.cardId,
    );
    return { cardId: input.cardId, at: now, codes };
  });
}
