// The verdict does not depend on the size: fast-check builds MIME trees (nested
// multiparts, forwarded messages, text, inline images, attachments, certified, refused
// and tampered seals, base64 and quoted-printable, CRLF and LF), and each message gets
// the same verdict walked in memory as a small message and streamed in random pieces
// after padding it over the 1 MB threshold; and that verdict is the one the rules give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { CertifyPool } from '../../gateway/imap/certify-pool.js';
import { examineSource, examineStream, type CheckContext } from '../../gateway/imap/examine.js';
import type { Limits } from '../../gateway/verdict.js';
import { cast, type Cast } from './support/fixtures.js';

const LIMITS: Limits = { maxParts: 1000, maxDepth: 32, maxBytes: 100 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 };
const THRESHOLD = 1024 * 1024;

type Seal = 'ok' | 'refused' | 'tampered';
type Node =
  | { t: 'text' | 'html' | 'image' | 'pdf' }
  | { t: 'seal'; s: Seal; cte: 'base64' | 'quoted-printable' }
  | { t: 'multi'; kids: Node[] }
  | { t: 'fwd'; msg: Node };

const leaf = fc.oneof(
  fc.constantFrom<Node>({ t: 'text' }, { t: 'html' }, { t: 'image' }, { t: 'pdf' }),
  fc.record({ t: fc.constant('seal' as const), s: fc.constantFrom<Seal>('ok', 'ok', 'refused', 'tampered'), cte: fc.constantFrom('base64' as const, 'quoted-printable' as const) }),
);
const tree = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ t: fc.constant('multi' as const), kids: fc.array(tie('node'), { minLength: 1, maxLength: 4 }) }),
    fc.record({ t: fc.constant('fwd' as const), msg: tie('node') }),
  ),
})).node;

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

/** Quoted-printable as a mail client writes it: soft line breaks between escapes, never inside one. */
function qp(b: Buffer): string {
  let out = '';
  let line = 0;
  for (const x of b) {
    const e = x > 32 && x < 127 && x !== 61 ? String.fromCharCode(x) : '=' + x.toString(16).toUpperCase().padStart(2, '0');
    if (line + e.length > 75) {
      out += '=\r\n';
      line = 0;
    }
    out += e;
    line += e.length;
  }
  return out;
}

let seq = 0;
function render(n: Node): string {
  switch (n.t) {
    case 'text':
      return 'Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n-- \r\nBob';
    case 'html':
      return 'Content-Type: text/html\r\n\r\n<p>See <img src="cid:logo"></p>';
    case 'image':
      return 'Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==';
    case 'pdf':
      return 'Content-Type: application/pdf; name="payment-instructions.pdf"\r\nContent-Disposition: attachment; filename="payment-instructions.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK';
    case 'seal': {
      const body = n.cte === 'base64' ? containers[n.s].toString('base64').replace(/(.{76})/g, '$1\r\n') : qp(containers[n.s]);
      return `Content-Type: application/x-sealcode; name="f${seq++}.seal"\r\nContent-Transfer-Encoding: ${n.cte}\r\n\r\n${body}`;
    }
    case 'multi': {
      const b = `b${seq++}`;
      return `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n` + n.kids.map((k) => `--${b}\r\n${render(k)}\r\n`).join('') + `--${b}--`;
    }
    case 'fwd':
      return `Content-Type: message/rfc822\r\n\r\nFrom: someone@example.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n${render(n.msg)}`;
  }
}

/** The verdict the rules give for a tree (docs/gateway.md). */
function expected(root: Node): string | undefined {
  const seals: Seal[] = [];
  let unsealed = 0;
  const walk = (n: Node): void => {
    if (n.t === 'seal') seals.push(n.s);
    else if (n.t === 'image' || n.t === 'pdf') unsealed++;
    else if (n.t === 'multi') n.kids.forEach(walk);
    else if (n.t === 'fwd') walk(n.msg);
  };
  walk(root);
  if (seals.includes('tampered')) return 'tampered';
  if (seals.includes('refused')) return 'uncertified';
  if (seals.length === 0) return undefined;
  return unsealed ? 'partial' : 'certified';
}

function message(root: Node, lf: boolean, pad: number): Buffer {
  const b = `top${seq++}`;
  const preamble = pad ? 'This is a multi-part message in MIME format.\r\n'.repeat(Math.ceil(pad / 46)) : '';
  let s = `From: Bob <bob@example.test>\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n${preamble}--${b}\r\n${render(root)}\r\n--${b}--\r\n`;
  if (lf) s = s.replace(/\r\n/g, '\n');
  return Buffer.from(s, 'latin1');
}

async function* pieces(b: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let p = 0, k = 0; p < b.length; p += sizes[k++ % sizes.length]!) yield b.subarray(p, p + sizes[k % sizes.length]!);
}

describe('verdict whatever the size', () => {
  it('small (walked in memory) and padded over the threshold (streamed in pieces): the same verdict, the one the rules give', async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 4 }), async (root, lf, cuts) => {
        const small = message(root, lf, 0);
        const big = message(root, lf, THRESHOLD * 1.1);
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
    const small = await examineSource(message(deep, false, 0), ctx, pool);
    const big = await examineStream(pieces(message(deep, false, THRESHOLD + 1000), [65536]), ctx);
    for (const x of [small, big]) expect(x.verdict).toEqual({ label: 'uncertified', reason: 'too complex to check: nested more than 32 levels deep' });
  });
});
