// Completing a blind code's dedicated profile (docs/FORMAT.md §8): the distributor made
// it with K(label) only; the whole code, typed once by its holder, adds the blind part,
// and codeKey becomes the blind code key. The blind part itself is not kept.
import { fromBase64, toBase64 } from './bytes.js';
import { parseCode } from './codes.js';
import { SealError } from './errors.js';
import { blindCodeKey, parseBlindPart, splitCode } from './blind.js';
import { profileCerts, type DedicatedProfile } from './profile.js';

export function completeProfile(p: DedicatedProfile, fullCode: string): DedicatedProfile {
  if (p.blind === 'applied') throw new SealError('USAGE', 'this dedicated build already holds its blind part');
  if (p.blind !== 'needed') throw new SealError('USAGE', 'this dedicated build was not made from a blind code: it needs no blind part');
  const { seller, blind } = splitCode(fullCode);
  if (!blind) throw new SealError('BAD_CODE', 'this is only the seller\'s part of the code: give the whole code, with its part after "+"');
  const code = parseCode(seller);
  const { build } = profileCerts(p);
  // A copy code's build keeps its parent's key, so it takes the parent's whole code too.
  if (code.serial !== build.serial && code.serial !== build.keyLabel) throw new SealError('BAD_CODE', 'this is not the code this dedicated build was made from');
  const b = parseBlindPart(build.keyKind, build.keyLabel, blind);
  return { ...p, codeKey: toBase64(blindCodeKey(fromBase64(p.codeKey), b)), blind: 'applied' };
}
