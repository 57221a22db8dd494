// ID mode (claim 17, Fig. 4/5): the purchaser names an ID for a code before it is
// redeemed, and the build's key becomes K(ID) instead of K(serial), so every card of
// the purchaser's group can seal for that build by ID without knowing the serial.
import { SealError } from '../../card/index.js';
import type { Seller } from './seller.js';
import { checkCode, redeemOffline, type Grant, type GrantInput } from './redemption.js';

export interface IdGrantInput extends GrantInput {
  id: string;
}

/** Off-line redemption in ID mode: the ID is bound and the code redeemed in one transaction. */
export async function redeemOfflineAsId(seller: Seller, input: IdGrantInput): Promise<Grant> {
  if (!input.id) throw new SealError('USAGE', 'an ID is required');
  return seller.db.tx(async (): Promise<Grant> => {
      const row = await checkCode(seller, input.code);
      if (row.kind === 'copy') throw new SealError('USAGE', "a copy code keeps its parent build's key and cannot take an ID");
      // Only an unused code takes the ID; anything else fails in redeemOffline with the
      // usual message, and the transaction leaves the row as it was.
      if (row.state === 'unused')
        await seller.db.run("UPDATE codes SET key_kind = 'id', key_label = ? WHERE serial = ?", input.id, row.serial);
      return redeemOffline(seller, input);
    });
}
