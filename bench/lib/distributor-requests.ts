// What both distributor benches prepare and send (fresh codes, pre-granted downloads,
// the autocannon request lists), so that their rows measure the same thing.
import { issueCard } from '../../distributor/seller/cards.js';
import { grantRedemption } from '../../distributor/seller/redemption.js';
import type { Seller } from '../../distributor/seller/seller.js';

/**
 * Codes for `n` redemptions and tokens for `n` downloads, with spares: autocannon may
 * set up a few requests beyond `amount`.
 */
export async function benchStock(seller: Seller, n: number, spare = 100): Promise<{ codes: string[]; tokens: string[] }> {
  const card = await issueCard(seller, { name: 'Bench', email: 'bench@example.test', codes: 2 * (n + spare), maxCodes: 10 * n + 1000 });
  const codes = card.data.codes.map((c) => c.code);
  const grantCodes = codes.splice(0, n + spare);
  const tokens: string[] = [];
  for (const [i, code] of grantCodes.entries()) tokens.push((await grantRedemption(seller, { code, email: `g${i}@example.test`, resumeWindowMs: 3_600_000 })).token);
  return { codes, tokens };
}

// Both lists are consumed (shift): several runs over one stock never reuse a code or token.
/** GET /download/TOKEN for each pre-granted token in turn. */
export function downloadRequests(tokens: string[]): object[] {
  return [{ method: 'GET', setupRequest: (req: object) => ({ ...req, path: `/download/${tokens.shift()}` }) }];
}

/** POST /redeem with the next fresh code, then GET the download it links to. */
export function redeemThenDownload(codes: string[], cookie: string, csrf: string): object[] {
  let c = 0;
  return [
    {
      method: 'POST',
      path: '/redeem',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (req: object) => ({ ...req, body: new URLSearchParams({ code: codes.shift()!, email: `r${c++}@example.test`, _csrf: csrf }).toString() }),
      onResponse: (_status: number, body: string, context: { token?: string }) => {
        context.token = /href="\/download\/([A-Za-z0-9_-]+)"/.exec(body)?.[1];
      },
    },
    { method: 'GET', setupRequest: (req: object, context: { token?: string }) => ({ ...req, path: `/download/${context.token}` }) },
  ];
}
