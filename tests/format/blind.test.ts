// Blind parts (docs/FORMAT.md §2.1): the vectors of the format document, the check that
// catches every single mistyped character and every swap of neighbours, and the split
// of a typed whole code into the seller's part and the blind part.
import { describe, expect, it } from 'vitest';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  ALPHABET,
  blindCharsOf,
  blindCodeKey,
  blindMessage,
  codeKey,
  formatBlindPart,
  fromHex,
  idKey,
  isSealError,
  normalize,
  parseBlindPart,
  sellerPart,
  splitCode,
  toHex,
} from '../../card/index.js';

const B = fromHex('42'.repeat(32));
const KA = fromHex('11'.repeat(32));
const VECTORS = [
  { kind: 'code', label: '2NKKC62GQ3', part: 'XJ8Q-1EFV-T03Q-849W-TA', bits: 'ec9170b9fbd00774113c', key: 'd5f551ccc20ea22ee276422e174d0136d0d1c37408faa929ba4598864b45ba3a' },
  { kind: 'id', label: 'alice-friends', part: '8PE7-YR70-WYD9-QM3G-RK', bits: '459c7f60e0e79a9bd070', key: '4a0036017da2f9075b96dbae94629eab0e5e08983ba1addc271ac02325483598' },
] as const;

const badCode = (f: () => unknown): boolean => {
  try {
    f();
    return false;
  } catch (e) {
    return isSealError(e, 'BAD_CODE');
  }
};

describe('blind parts', () => {
  it('match the vectors of docs/FORMAT.md', () => {
    for (const v of VECTORS) {
      const mac = hmac(sha256, B, blindMessage(v.kind, v.label));
      expect(formatBlindPart(v.kind, v.label, blindCharsOf(mac))).toBe(v.part);
      const bits = parseBlindPart(v.kind, v.label, v.part);
      expect(toHex(bits)).toBe(v.bits);
      const k = v.kind === 'code' ? codeKey(KA, v.label) : idKey(KA, v.label);
      expect(toHex(blindCodeKey(k, bits))).toBe(v.key);
    }
  });

  it('reject every single mistyped character and every swap of two different neighbours', () => {
    const { kind, label, part } = VECTORS[0];
    const s = normalize(part);
    let tried = 0;
    for (let i = 0; i < s.length; i++)
      for (const c of ALPHABET) {
        if (c === s[i]) continue;
        expect(badCode(() => parseBlindPart(kind, label, s.slice(0, i) + c + s.slice(i + 1)))).toBe(true);
        tried++;
      }
    for (let i = 0; i + 1 < s.length; i++) {
      if (s[i] === s[i + 1]) continue;
      expect(badCode(() => parseBlindPart(kind, label, s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2)))).toBe(true);
      tried++;
    }
    expect(tried).toBeGreaterThan(18 * 31);
  });

  it('reject a blind part typed after another code, a truncated one, and foreign characters', () => {
    expect(badCode(() => parseBlindPart('code', '2NKKC62GQ4', VECTORS[0].part))).toBe(true);
    expect(badCode(() => parseBlindPart('id', '2NKKC62GQ3', VECTORS[0].part))).toBe(true);
    expect(badCode(() => parseBlindPart('code', '2NKKC62GQ3', VECTORS[0].part.slice(0, -1)))).toBe(true);
    expect(badCode(() => parseBlindPart('code', '2NKKC62GQ3', 'XJ8Q-1EFV-T03Q-849W-T!'))).toBe(true);
    // Typing slips the alphabet forgives: case, O for 0, I and L for 1.
    expect(toHex(parseBlindPart('code', '2NKKC62GQ3', 'xj8q 1efv t03q 849w ta'))).toBe(VECTORS[0].bits);
    expect(toHex(parseBlindPart('code', '2NKKC62GQ3', 'XJ8Q-lEFV-TO3Q-849W-TA'))).toBe(VECTORS[0].bits);
  });

  it('split a typed whole code after "+", or after the 28 seller characters when the "+" is left out', () => {
    const seller = 'SC-2NKK-C62G-Q3B0-02C1-B6WG-MY5Q-Z1HV';
    expect(splitCode(`${seller}+${VECTORS[0].part}`)).toEqual({ seller, blind: normalize(VECTORS[0].part) });
    expect(splitCode(`${seller}-${VECTORS[0].part}`).blind).toBe(normalize(VECTORS[0].part));
    expect(splitCode(`${seller} ${VECTORS[0].part}`.slice(3)).blind).toBe(normalize(VECTORS[0].part));
    expect(splitCode(seller)).toEqual({ seller });
    expect(sellerPart(`${seller}+${VECTORS[0].part}`)).toBe(seller);
    expect(sellerPart(seller)).toBe(seller);
  });
});
