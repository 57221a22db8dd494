// The verdict does not depend on the size: fast-check builds MIME trees (nested
// multiparts, forwarded messages, text, inline images, attachments, certified, refused
// and tampered seals, base64 and quoted-printable, CRLF and LF), and each message gets
// the same verdict walked in memory as a small message and streamed in random pieces
// after padding it over the 1 MB threshold; and that verdict is the one the rules give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { expected, message, tree, type Node, type Seal } from './support/mime-trees.js';
import { pino } from 'pino';
import { CertifyPool } from '../../gateway/imap/certify-pool.js';
import { examineSource, examineStream, type CheckContext } from '../../gateway/imap/examine.js';
import type { Limits } from '../../gateway/verdict.js';
import { cast, type Cast } from './support/fixtures.js';

const LIMITS: Limits = { maxParts: 1000, maxDepth: 32, maxBytes: 100 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 };
const THRESHOLD = 1024 * 1024;

let c: Cast;
let containers: Record<Seal, Buffer>;
let pool: CertifyPool;
let ctx: CheckContext;

beforeAll(async () => {
  c = cast();
  const data = new Uint8Array(3000).map((_, i) => i & 0xff);
  containers = {
    ok: Buffer.from(await c.sealed('card', data)),
    refused: Buffer.from(await c.sealed('expired', data)),
    tampered: Buffer.from(await c.sealed('tampered', data)),
  };
  pool = new CertifyPool(c.issuer.publicKey, pino({ level: 'silent' }), 0);
  ctx = { issuerPub: c.issuer.publicKey, limits: LIMITS };
});
afterAll(async () => {
  await pool?.close();
});

async function* pieces(b: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let p = 0, k = 0; p < b.length; p += sizes[k++ % sizes.length]!) yield b.subarray(p, p + sizes[k % sizes.length]!);
}

describe('verdict whatever the size', () => {
  it('small (walked in memory) and padded over the threshold (streamed in pieces): the same verdict, the one the rules give', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 4 }), async (root, lf, cuts) => {
        const small = message(root, containers, lf, 0);
        const big = message(root, containers, lf, THRESHOLD * 1.1);
        expect(big.length).toBeGreaterThan(THRESHOLD);
        const a = await examineSource(small, ctx, pool);
        const b = await examineStream(pieces(big, cuts), ctx);
        expect(b.verdict?.label).toBe(a.verdict?.label);
        expect(b.verdict?.reason).toBe(a.verdict?.reason);
        expect(a.verdict?.label).toBe(expected(root));
      }),
      { numRuns: 40 },
    );
  });

  it('a message past a limit is "too complex to check" on both paths', async () => {
    const deep: Node = Array.from({ length: 40 }).reduce<Node>((n) => ({ t: 'multi', kids: [n] }), { t: 'seal', s: 'ok', cte: 'base64' });
    const small = await examineSource(message(deep, containers, false, 0), ctx, pool);
    const big = await examineStream(pieces(message(deep, containers, false, THRESHOLD + 1000), [65536]), ctx);
    for (const x of [small, big]) expect(x.verdict).toEqual({ label: 'uncertified', reason: 'too complex to check: nested more than 32 levels deep' });
  });
});
