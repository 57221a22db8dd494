// Every row of the design's certification table, at the library level (receivers with
// keys, and the keyless gateway view), for cards of any custody: tests/card/ runs it
// with in-memory cards, tests/cli/token.test.ts with cards whose keys are in a token.
import { beforeAll, describe, expect, it } from 'vitest';
import { isSealError, buildRecipient, type Party, type SealErrorCode } from '../../card/index.js';
import { makeWorld, partyOfCard, partyOfBuild, buildCertOf, sealBytes, openBytes, verifyBytes } from './world.js';

export type World = ReturnType<typeof makeWorld>;
export type CardParties = (w: World) => Promise<{ A: Party; B: Party; C: Party }>;
export const memoryCards: CardParties = async (w) => ({ A: partyOfCard(w.A), B: partyOfCard(w.B), C: partyOfCard(w.C) });

const data = new Uint8Array(200_000).map((_, i) => (i * 31) & 255);

async function expectCode(p: Promise<unknown>, code: SealErrorCode): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(isSealError(err) ? err.code : err).toBe(code);
}

export function certificationTable(title: string, cards: CardParties, w: World = makeWorld()): void {
  describe(title, () => {
    const ip = w.issuer.publicKey;
    let A: Party, B: Party, C: Party;
    beforeAll(async () => {
      ({ A, B, C } = await cards(w));
    });
    const D1 = partyOfBuild(w.D1);

    it('card A → dedicated build for A\'s code: certified, decrypts', async () => {
      const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data);
      const { opened, data: out } = await openBytes(D1, s, ip);
      expect(opened.verdict.certified).toBe(true);
      expect(opened.verdict.origin.type).toBe('card');
      expect(Buffer.compare(out, data)).toBe(0);
      expect((await verifyBytes(s, ip)).verdict.certified).toBe(true);
    });

    it('dedicated build → card A that issued its code: certified, decrypts', async () => {
      const s = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], data, { addressees: [w.A.certBytes] });
      const { opened, data: out } = await openBytes(A, s, ip);
      expect(opened.verdict.certified).toBe(true);
      expect(opened.verdict.origin.type).toBe('build');
      expect(Buffer.compare(out, data)).toBe(0);
      expect((await verifyBytes(s, ip)).verdict.certified).toBe(true);
    });

    it('card A → card B of the same group: certified, decrypts', async () => {
      const s = await sealBytes(A, [{ kind: 'group', label: w.g1.id }], data);
      const { opened, data: out } = await openBytes(B, s, ip);
      expect(opened.verdict.certified).toBe(true);
      expect(Buffer.compare(out, data)).toBe(0);
    });

    it('card B of A\'s group → A\'s dedicated build given the ID: certified, decrypts', async () => {
      const idBuild = w.build(w.A, w.g1, w.serialA, { keyKind: 'id', keyLabel: 'alice-friends' });
      const s = await sealBytes(B, [{ kind: 'id', label: 'alice-friends' }], data);
      const { opened, data: out } = await openBytes(partyOfBuild(idBuild), s, ip);
      expect(opened.verdict.certified).toBe(true);
      expect(Buffer.compare(out, data)).toBe(0);
    });

    it('card C of another group → A\'s dedicated build: not decryptable', async () => {
      const s = await sealBytes(C, [{ kind: 'code', label: w.serialA }], data);
      await expectCode(openBytes(D1, s, ip), 'NOT_FOR_US');
    });

    it('dedicated → dedicated of the same code without copy right: refused', async () => {
      const D2 = w.build(w.A, w.g1, w.serialA);
      const s = await sealBytes(partyOfBuild(D2), [buildRecipient(buildCertOf(D2))], data, {
        addressees: [Buffer.from(w.D1.buildCert, 'base64')],
      });
      await expectCode(openBytes(D1, s, ip), 'REFUSED');
      const v = await verifyBytes(s, ip);
      expect(v.verdict.certified).toBe(false);
      expect(v.verdict.reason).toMatch(/copy right/);
    });

    it('dedicated → dedicated when one is a copy right of the other: certified, both ways', async () => {
      const copy = w.build(w.A, w.g1, w.serialA, { copyOf: w.D1.buildId });
      const s = await sealBytes(partyOfBuild(copy), [buildRecipient(buildCertOf(copy))], data);
      expect((await openBytes(D1, s, ip)).opened.verdict.certified).toBe(true);
      const back = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], data);
      expect(Buffer.compare((await openBytes(partyOfBuild(copy), back, ip)).data, data)).toBe(0);
    });

    it('a build receiving data signed with its own build key (illegal copy): refused', async () => {
      const s = await sealBytes(D1, [buildRecipient(buildCertOf(w.D1))], data);
      await expectCode(openBytes(D1, s, ip), 'REFUSED');
    });

    it('an expired build refuses to open, saying so', async () => {
      const s = await sealBytes(A, [{ kind: 'code', label: w.serialA }], data);
      await expectCode(openBytes(D1, s, ip, { now: w.now + 400 * 86400_000 }), 'EXPIRED');
    });

    it('a dedicated build cannot seal for anyone but its purchaser', async () => {
      await expectCode(sealBytes(D1, [{ kind: 'code', label: 'OTHERSERIA' }], data), 'USAGE');
    });
  });
}
