// The purchaser's code states refreshed from the distributor through the card host (the
// card signs the request, so only while unlocked): after each unlock, and on start-up
// when the card is already unlocked. Offline, the card file keeps its last states and
// the options page says when they were last refreshed and why not now.
import type { HostSync } from '../../card/host-protocol.js';
import { messenger } from '../lib/messenger.js';
import { hostCall } from './host-client.js';

export type CodeSync =
  | { ok: true; checkedAt: number; at: number; distributor: string; changed: HostSync['changed'] }
  | { ok: false; checkedAt: number; error: string; lastAt?: number };

let inFlight: Promise<CodeSync> | null = null;

async function run(): Promise<CodeSync> {
  const before = (await messenger().storage.local.get('codeSync')).codeSync as CodeSync | undefined;
  let out: CodeSync;
  try {
    const r = await hostCall('sync');
    out = { ok: true, checkedAt: Date.now(), at: r.at, distributor: r.distributor, changed: r.changed };
  } catch (e) {
    const lastAt = before?.ok ? before.at : before?.lastAt;
    out = { ok: false, checkedAt: Date.now(), error: e instanceof Error ? e.message : String(e), ...(lastAt ? { lastAt } : {}) };
  }
  await messenger().storage.local.set({ codeSync: out });
  return out;
}

/** One refresh at a time; a caller arriving meanwhile gets the running one. */
export function syncCodes(): Promise<CodeSync> {
  inFlight ??= run().finally(() => (inFlight = null));
  return inFlight;
}

/** The last refresh (waiting for one under way). */
export async function codeSyncState(): Promise<CodeSync | null> {
  if (inFlight) return inFlight;
  return ((await messenger().storage.local.get('codeSync')).codeSync as CodeSync | undefined) ?? null;
}
