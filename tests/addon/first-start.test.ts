// The dedicated add-on's first start with a blind code (background/first-start.ts), as
// pure logic over an in-memory storage.local: what is refused (and that nothing is then
// stored), what is kept (the derived key only, for this build only), and that the key is
// the one `dedicated complete` derives. tests/addon/keys.test.ts runs it in Thunderbird.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  blindCharsOf,
  blindMessage,
  completeProfile,
  formatBlindCode,
  formatBlindPart,
  makeBuild,
  makeCard,
  newGroupKey,
  newSigningKey,
  normalize,
  type DedicatedProfile,
} from '../../card/index.js';
import { COMPLETION_KEY, giveWholeCode, withBlindPart } from '../../thunderbird-addon/background/first-start.js';

const store: Record<string, unknown> = {};
const g = globalThis as unknown as { messenger?: unknown };
beforeAll(() => {
  g.messenger = {
    storage: {
      local: {
        get: async (k: string) => (k in store ? { [k]: store[k] } : {}),
        set: async (o: Record<string, unknown>) => void Object.assign(store, o),
      },
    },
  };
});
afterAll(() => {
  delete g.messenger;
});

describe("a blind code's build on first start", () => {
  const issuer = newSigningKey();
  const groupKey = newGroupKey();
  const B = new Uint8Array(randomBytes(32));
  const alice = makeCard(issuer.secretKey, issuer.publicKey, { purchaser: { id: 'p_a', name: 'Alice', email: 'a@example.test' }, groupId: 'grp_b', groupKey, codes: 2, blind: true });
  const wholeOf = (i: number): string => {
    const c = alice.data.codes[i]!;
    const part = formatBlindPart('code', c.serial, blindCharsOf(hmac(sha256, B, blindMessage('code', c.serial))));
    return formatBlindCode(c.code, part);
  };
  const build = (i: number): DedicatedProfile =>
    makeBuild(issuer.secretKey, issuer.publicKey, {
      serial: alice.data.codes[i]!.serial,
      purchaserCert: alice.cert,
      purchaserCertBytes: alice.certBytes,
      groupKey,
      redeemerEmail: 'dana@example.test',
      blind: true,
    });
  const dana = build(0);

  it('refuses what is not this build\'s whole code, clearly, and stores nothing', async () => {
    const whole = wholeOf(0);
    const typo = whole.slice(0, -1) + (whole.endsWith('A') ? 'B' : 'A');
    const cases: [string, RegExp][] = [
      ['', /type the whole code/],
      ['   ', /type the whole code/],
      [whole + ' '.repeat(10) + 'X'.repeat(200), /longer than any sealcode code/],
      [whole.split('+')[0]!, /only the seller's part/],
      [typo, /typing mistake/],
      [wholeOf(1), /not the code this dedicated build was made from/],
    ];
    for (const [code, why] of cases) {
      await expect(giveWholeCode(dana, code), code).rejects.toThrow(why);
      expect(store[COMPLETION_KEY]).toBeUndefined();
    }
    await expect(giveWholeCode(null, whole)).rejects.toThrow(/unstamped/);
    expect((await withBlindPart(dana)).blind).toBe('needed');
  });

  it('keeps the derived key for this build only: the same bytes as `dedicated complete`, never the code', async () => {
    const whole = wholeOf(0);
    // As typed by a person: small letters, spaces around it.
    const c = await giveWholeCode(dana, `  ${whole.toLowerCase()} `);
    const cli = completeProfile(dana, whole);
    expect(c).toEqual({ buildId: dana.buildId, codeKey: cli.codeKey });
    expect(store[COMPLETION_KEY]).toEqual(c);
    const text = JSON.stringify(store);
    for (const f of [whole, normalize(whole), normalize(whole.split('+')[1]!), whole.split('+')[1]!]) expect(text.includes(f)).toBe(false);
    expect(await withBlindPart(dana)).toEqual(cli);
    // Another build (another code's) is not completed by what this one stored.
    const other = build(1);
    expect(await withBlindPart(other)).toEqual(other);
    // A second time: this build already holds its blind part.
    await expect(giveWholeCode(cli, whole)).rejects.toThrow(/already holds its blind part/);
  });
});
