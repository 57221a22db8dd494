// The rules docs/FORMAT.md states that an independent implementation would otherwise
// have to guess (each case names its section). Header field rules are in header.test.ts,
// payload framing and metadata in open.test.ts.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildRecipient,
  fromBase64,
  isSealError,
  newAgreementKey,
  newSigningKey,
  issueCert,
  normalize,
  openCardFile,
  openSealed,
  openToCard,
  parseCode,
  sealToCard,
  utf8,
  verifySealed,
  type StatusList,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { outcomeOf } from '../support/outcome.js';
import { PAIR_KEY_CONTEXT, STATEMENT_CONTEXT } from '../../distributor/protocol.js';
import { CODE_BUNDLE_CONTEXT } from '../../distributor/seller/cards.js';
import { initSeller } from '../../distributor/seller/seller.js';
import { buildCertOf, chunksOf, collect, makeWorld, partyOfBuild, partyOfCard, sealBytes } from '../support/world.js';

const w = makeWorld();
const ip = w.issuer.publicKey;
const A = partyOfCard(w.A);
const B = partyOfCard(w.B);
const D1 = partyOfBuild(w.D1);
const data = new Uint8Array(1000).fill(4);

const open = async (receiver: typeof A, bytes: Uint8Array, status?: StatusList) => {
  const o = await openSealed(chunksOf(bytes), { receiver, issuerPub: ip, primitives: nodePrimitives, now: w.now, status });
  await collect(o.content);
  return o.verdict;
};
const verify = (bytes: Uint8Array, status?: StatusList) => verifySealed(chunksOf(bytes), { issuerPub: ip, primitives: nodePrimitives, now: w.now, status });

describe('§14: a receiver checks addressee certificates as strictly as the keyless verifier', () => {
  it('an addressee signed by another issuer: TAMPERED for both', async () => {
    const rogue = newSigningKey();
    const forged = issueCert(rogue.secretKey, { ...w.A.cert }).bytes;
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data, { addressees: [forged] });
    expect(await outcomeOf(open(D1, s))).toMatch(/^TAMPERED: /);
    expect(await outcomeOf(verify(s))).toMatch(/^TAMPERED: /);
  });

  it('an addressee that is not a certificate at all: MALFORMED for both', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data, { addressees: [utf8('garbage')] });
    expect(await outcomeOf(open(D1, s))).toMatch(/^MALFORMED: /);
    expect(await outcomeOf(verify(s))).toMatch(/^MALFORMED: /);
  });

  it('a real addressee changes nothing for the receiver', async () => {
    const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data, { addressees: [w.A.certBytes, Buffer.from(w.D1.buildCert, 'base64')] });
    expect((await open(D1, s)).certified).toBe(true);
    expect((await verify(s)).verdict.certified).toBe(true);
  });
});

describe("§15: revoking a card revokes the builds made from its codes", () => {
  const revokedA: StatusList = { issuedAt: w.now, revoked: { codes: [], builds: [], cards: [w.A.cert.cardId] } };

  it('a build of the revoked card sealing for its group: REVOKED for the receiver', async () => {
    const s = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], data, { addressees: [w.A.certBytes] });
    expect((await open(B, s)).certified).toBe(true);
    expect(await outcomeOf(open(B, s, revokedA))).toBe(
      `REVOKED: not certified: the sender's build: the purchaser's card ${w.A.cert.cardId} is revoked (sealed by dedicated build ${w.D1.buildId} (code ${w.serialA}) of dana@example.test, for Alice <alice@example.test>)`,
    );
  });

  it('and for the keyless verifier, even when the container names no addressee', async () => {
    const s = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], data);
    expect((await verify(s)).verdict.certified).toBe(true);
    const v = (await verify(s, revokedA)).verdict;
    expect(v).toMatchObject({ certified: false, code: 'REVOKED' });
  });

  it('a card sealing for a build of a revoked card: REVOKED for that build', async () => {
    const s = await sealBytes(B, [{ kind: 'code', label: w.serialA }], data);
    expect(await outcomeOf(open(D1, s, revokedA))).toMatch(/^REVOKED: not certified: this build: the purchaser's card/);
  });
});

describe('§12: data sealed to a card', () => {
  it('the three contexts are the documented strings, and one cannot be opened as another', async () => {
    expect([PAIR_KEY_CONTEXT, CODE_BUNDLE_CONTEXT, STATEMENT_CONTEXT]).toEqual(['pair key', 'code bundle', 'statement']);
    const kx = newAgreementKey();
    const sealed = sealToCard(kx.publicKey, PAIR_KEY_CONTEXT, utf8('{}'));
    expect(Buffer.from(openToCard(kx.secretKey, PAIR_KEY_CONTEXT, sealed)).toString()).toBe('{}');
    for (const other of [CODE_BUNDLE_CONTEXT, STATEMENT_CONTEXT]) {
      let code = 'ok';
      try {
        openToCard(kx.secretKey, other, sealed);
      } catch (e) {
        code = isSealError(e) ? e.code : 'other';
      }
      expect(code, other).toBe('REFUSED');
    }
    // 32 + 24 + 16 bytes at least.
    expect(sealed.length).toBe(72 + 2);
    let short = 'ok';
    try {
      openToCard(kx.secretKey, PAIR_KEY_CONTEXT, sealed.subarray(0, 71));
    } catch (e) {
      short = isSealError(e) ? e.code : 'other';
    }
    expect(short).toBe('MALFORMED');
  });
});

describe('§10: card file key-stretching limits', () => {
  it('parameters within the ranges but past 1 GiB of scrypt memory are MALFORMED, not a crash', async () => {
    const env = (N: number, r: number, p: number) =>
      JSON.stringify({ sealcode: 'card', v: 1, kdf: { name: 'scrypt', N, r, p, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' }, nonce: 'AAAA', ct: 'AAAA' });
    for (const [N, r, p] of [[1 << 22, 32, 16], [1 << 22, 2, 1], [1 << 21, 4, 1]] as const)
      expect(await outcomeOf(openCardFile(env(N, r, p), 'x')), `${N} ${r} ${p}`).toBe('MALFORMED: card file has out-of-range key-stretching parameters');
    // Just inside the limit the parameters are accepted (and the bad ciphertext then fails).
    expect(await outcomeOf(openCardFile(env(1024, 32, 16), 'x'))).toMatch(/^BAD_PASSPHRASE: /);
  });
});

describe('§2: normalisation', () => {
  const code = w.A.data.codes[0]!.code;
  it('removes Unicode white space (as ECMAScript \\s), not only ASCII', async () => {
    for (const ws of [' ', '\t', '\n', '\u00a0', '\u2003', '\u3000', '\u2028', '\ufeff'])
      expect(parseCode(code.split('-').join(ws)).text, JSON.stringify(ws)).toBe(code);
    // Characters that are not white space are not removed: a zero-width space is a typo.
    expect(normalize(code.replace('-', '\u200b'))).toContain('\u200b');
  });
});

describe('§13: the issuer public key file', () => {
  it('is the 32-byte key in base64, one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealcode-issuer-pub-'));
    try {
      const r = await initSeller(dir);
      const text = readFileSync(join(dir, 'issuer.pub'), 'utf8');
      expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect(text.trim()).toBe(r.issuerPublicKey);
      expect(fromBase64(text.trim())).toHaveLength(32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
