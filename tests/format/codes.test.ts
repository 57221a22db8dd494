// Typing mistakes in a code: every single substituted character and every swap of two
// different neighbours is caught by the check characters (mod 1021) as BAD_CODE,
// before anything is looked up. Harmless variations (case, dashes, O/0, I/L/1) parse.
import { describe, expect, it } from 'vitest';
import { ALPHABET, checkChars, formatCode, generateCode, isSealError, isSerial, normalize, parseCode } from '../../card/index.js';
import { outcome } from '../support/outcome.js';

const codes = [generateCode(Date.UTC(2026, 0, 1)), generateCode(Date.UTC(2030, 5, 6)), generateCode()];
const regroup = (body: string): string => 'SC-' + body.match(/.{1,4}/g)!.join('-');
const badCode = (input: string): boolean => {
  try {
    parseCode(input);
    return false;
  } catch (e) {
    return isSealError(e, 'BAD_CODE');
  }
};

describe('code typing mistakes', () => {
  for (const code of codes) {
    const body = normalize(code.text);

    it(`${code.text}: every substitution at every position is BAD_CODE`, () => {
      expect(body).toHaveLength(28);
      const missed: string[] = [];
      for (let i = 0; i < body.length; i++)
        for (const ch of ALPHABET + 'U') {
          if (ch === body[i]) continue;
          const typed = regroup(body.slice(0, i) + ch + body.slice(i + 1));
          if (!badCode(typed)) missed.push(typed);
        }
      expect(missed).toEqual([]);
    });

    it(`${code.text}: every swap of two different neighbours is BAD_CODE`, () => {
      const missed: string[] = [];
      for (let i = 0; i + 1 < body.length; i++) {
        if (body[i] === body[i + 1]) continue;
        const typed = regroup(body.slice(0, i) + body[i + 1] + body[i] + body.slice(i + 2));
        if (!badCode(typed)) missed.push(typed);
      }
      expect(missed).toEqual([]);
    });

    it(`${code.text}: a missing or extra character is BAD_CODE`, () => {
      for (let i = 0; i < body.length; i++) expect(badCode(regroup(body.slice(0, i) + body.slice(i + 1)))).toBe(true);
      expect(badCode(regroup(body + '7'))).toBe(true);
    });

    it(`${code.text}: harmless variations parse to the same code`, () => {
      const variants = [code.text, code.text.toLowerCase(), body, code.text.replace(/-/g, ' '), code.text.replace(/0/g, 'O').replace(/1/g, 'I'), ` ${code.text}\n`];
      for (const v of variants) expect(parseCode(v)).toEqual({ serial: code.serial, secret: code.secret, text: code.text });
    });
  }

  it('a bare code whose body begins with "SC" still parses', () => {
    // Not produced by generateCode for decades, but typed codes come from anywhere.
    const c = formatCode('SC00000000', '1234567890ABCDEF');
    const bare = normalize(c);
    expect(bare.startsWith('SC')).toBe(true);
    expect(parseCode(bare).serial).toBe('SC00000000');
  });

  it('formatCode refuses characters outside the alphabet', () => {
    expect(() => formatCode('UUUUUUUUUU', '0000000000000000')).toThrowError(/Crockford/);
  });
});

describe('serials and the alphabet', () => {
  it('a serial is exactly 10 alphabet characters', () => {
    expect(isSerial('0123456789')).toBe(true);
    expect(isSerial('ABCDEFGHJK')).toBe(true);
    for (const s of ['012345678', '0123456789A', '', '012345678U', '012345678I', '012345678a', 'O123456789'])
      expect(isSerial(s), s).toBe(false);
  });

  it('check characters over a character outside the alphabet: BAD_CODE, saying why', () => {
    expect(outcome(() => checkChars('0000U'))).toBe('BAD_CODE: a code holds only Crockford base32 characters');
    expect(outcome(() => checkChars('0000a'))).toBe('BAD_CODE: a code holds only Crockford base32 characters');
    expect(checkChars('')).toBe('00');
    expect(checkChars('Z')).toBe('0Z');
  });
});
