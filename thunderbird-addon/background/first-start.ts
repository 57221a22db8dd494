// A blind code's dedicated build (docs/keys.md): the distributor stamped it with K(serial)
// only, so it cannot seal or open until its holder types the whole code once. The page
// pages/first-start.html takes it; here it is checked (seller part against this build's
// serial, blind part against its check characters) and turned into the blind code key by
// the same card/blind-profile.ts the CLI's `dedicated complete` uses. Only that derived
// key is kept (storage.local, with the build id it belongs to): never the code's text,
// and nothing leaves Thunderbird.
import { completeProfile } from '../../card/blind-profile.js';
import { SealError } from '../../card/errors.js';
import type { DedicatedProfile } from '../../card/profile.js';
import { messenger } from '../lib/messenger.js';

export const COMPLETION_KEY = 'blindCompletion';
export const FIRST_START_PAGE = 'pages/first-start.html';

/** What storage.local holds once the whole code was given: the derived key, not the code. */
export interface BlindCompletion {
  buildId: string;
  /** base64 of the blind code key HMAC(K(serial), "sealcode blind code key" ‖ 0 ‖ b(serial)). */
  codeKey: string;
}

export const NEEDS_CODE =
  'this sealcode add-on was made from a code with a part the distributor never saw: enter your whole code once (the page sealcode opened, or Enter code in its options)';

/** The stamped profile with the stored blind code key applied, when there is one for this build. */
export async function withBlindPart(p: DedicatedProfile): Promise<DedicatedProfile> {
  if (p.blind !== 'needed') return p;
  const c = (await messenger().storage.local.get(COMPLETION_KEY))[COMPLETION_KEY] as BlindCompletion | undefined;
  if (!c || c.buildId !== p.buildId || typeof c.codeKey !== 'string') return p;
  return { ...p, codeKey: c.codeKey, blind: 'applied' };
}

/** Checks the whole code against the stamped profile and stores the derived key; throws a clear error, storing nothing, when it does not fit. */
export async function giveWholeCode(stamped: DedicatedProfile | null, code: string): Promise<BlindCompletion> {
  if (!stamped) throw new SealError('USAGE', 'this is the unstamped dedicated template: it holds no keys');
  if (typeof code !== 'string' || !code.trim()) throw new SealError('BAD_CODE', 'type the whole code, as it was handed to you');
  if (code.length > 200) throw new SealError('BAD_CODE', 'that is longer than any sealcode code');
  const done = completeProfile(stamped, code.trim());
  const c: BlindCompletion = { buildId: done.buildId, codeKey: done.codeKey };
  await messenger().storage.local.set({ [COMPLETION_KEY]: c });
  return c;
}

/** On install (and on each start while the code is still missing), the page that asks for it. */
export async function askIfNeeded(p: DedicatedProfile | null): Promise<boolean> {
  if (!p || (await withBlindPart(p)).blind !== 'needed') return false;
  await messenger().tabs.create({ url: messenger().runtime.getURL(FIRST_START_PAGE) });
  return true;
}
