// The pure verdict decision: every rule, its precedence and every reason text, so that a
// changed rule or order fails here.
import { describe, expect, it } from 'vitest';
import { decide, limitReason, TOO_COMPLEX, type Limits, type SealResult } from '../../gateway/verdict.js';

const L: Limits = { maxParts: 1000, maxDepth: 32, maxBytes: 100, maxHeaderBytes: 7 };
const ok = (reason = 'sealed with a purchaser\'s card'): SealResult => ({ label: 'certified', reason });
const refused = (reason = 'expired'): SealResult => ({ label: 'uncertified', reason, code: 'EXPIRED' });
const bad = (reason = 'changed'): SealResult => ({ label: 'tampered', reason, code: 'TAMPERED' });

describe('decide', () => {
  it('plain mail: no seal, no limit → no verdict, whatever the unsealed attachments', () => {
    expect(decide({ seals: [], unsealed: 0 }, L)).toBeUndefined();
    expect(decide({ seals: [], unsealed: 5 }, L)).toBeUndefined();
  });

  it('one certified seal and nothing else → certified with its own reason', () => {
    expect(decide({ seals: [ok('R1')], unsealed: 0 }, L)).toEqual({ label: 'certified', reason: 'R1' });
  });

  it('several certified seals → certified, saying how many', () => {
    expect(decide({ seals: [ok('a'), ok('b')], unsealed: 0 }, L)).toEqual({ label: 'certified', reason: 'all 2 attachments are certified seals' });
    expect(decide({ seals: [ok(), ok(), ok()], unsealed: 0 }, L)!.reason).toBe('all 3 attachments are certified seals');
  });

  it('certified seals beside an unsealed attachment → partial, with both counts', () => {
    expect(decide({ seals: [ok()], unsealed: 1 }, L)).toEqual({ label: 'partial', reason: '1 certified seal(s) beside 1 unsealed attachment(s)' });
    expect(decide({ seals: [ok(), ok()], unsealed: 3 }, L)).toEqual({ label: 'partial', reason: '2 certified seal(s) beside 3 unsealed attachment(s)' });
  });

  it('a refused seal → uncertified with that seal\'s reason, even beside certified ones and unsealed parts', () => {
    expect(decide({ seals: [refused('R')], unsealed: 0 }, L)).toEqual({ label: 'uncertified', reason: 'R', decidedBy: 0 });
    expect(decide({ seals: [ok(), refused('first'), refused('second')], unsealed: 2 }, L)).toEqual({ label: 'uncertified', reason: 'first', decidedBy: 1 });
  });

  it('a tampered seal wins over everything, in any position', () => {
    expect(decide({ seals: [bad('T')], unsealed: 0 }, L)).toEqual({ label: 'tampered', reason: 'T', decidedBy: 0 });
    expect(decide({ seals: [ok(), refused(), bad('T1'), bad('T2')], unsealed: 4, exceeded: 'parts' }, L)).toEqual({
      label: 'tampered',
      reason: 'T1',
      decidedBy: 2,
    });
  });

  it('a reached limit → uncertified "too complex to check", never certified, never plain', () => {
    for (const kind of ['parts', 'depth', 'size', 'header'] as const) {
      expect(decide({ seals: [], unsealed: 0, exceeded: kind }, L)).toEqual({ label: 'uncertified', reason: limitReason(kind, L) });
      expect(decide({ seals: [ok()], unsealed: 0, exceeded: kind }, L)!.label).toBe('uncertified');
      expect(decide({ seals: [ok()], unsealed: 2, exceeded: kind }, L)!.label).toBe('uncertified');
    }
  });

  it('a reached limit wins over a refused seal (the reason says what was not examined)', () => {
    expect(decide({ seals: [refused('R')], unsealed: 0, exceeded: 'depth' }, L)).toEqual({ label: 'uncertified', reason: limitReason('depth', L) });
  });
});

describe('limitReason', () => {
  it('names the limit and its value', () => {
    expect(limitReason('parts', L)).toBe('too complex to check: more than 1000 MIME parts');
    expect(limitReason('depth', L)).toBe('too complex to check: nested more than 32 levels deep');
    expect(limitReason('size', L)).toBe('too complex to check: larger than 100 bytes');
    expect(limitReason('header', L)).toBe('too complex to check: a header block larger than 7 bytes');
    expect(TOO_COMPLEX).toBe('too complex to check');
  });
});
