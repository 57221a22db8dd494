// Revocation reaching installed builds: the distributor's signed status list, fetched
// from the URL in the profile (dedicated) or the card (purchaser) on start-up and on a
// timer, verified against the issuer key, never rolled back, and kept in storage so that
// the last list still applies offline.
import { fromBase64 } from '../../card/bytes.js';
import { verifyStatus, type SignedStatus, type StatusList } from '../../card/status.js';
import { profileCerts } from '../../card/profile.js';
import { acceptStatus, selfRevoked, statusUrlOf, type Self } from '../lib/status-logic.js';
import { messenger } from '../lib/messenger.js';
import { FLAVOUR } from './flavour.js';
import { knownCard, loadProfile } from './keys.js';

// Hourly in every shipped build; a test build may shorten it (build.ts), nothing else can.
declare const __STATUS_MINUTES__: number;

const KEY = 'statusList';
/** The last refresh tried, and how it ended: what the options page and a test can look at. */
const ATTEMPT = 'statusAttempt';
/** Set in storage.session, which Thunderbird empties when it quits: its absence means a fresh start. */
const STARTED = 'statusStarted';
export const ALARM = 'sealcode-status';
export const REFRESH_MINUTES: number = __STATUS_MINUTES__;
/** A wake of the event page (not a start) refreshes only a list older than this. */
const WAKE_MIN_AGE_MS = 5 * 60_000;

export interface Attempt {
  at: number;
  ok: boolean;
  error?: string;
  /** The list held after this attempt. */
  issuedAt?: number;
}

interface Held {
  signed: SignedStatus;
  fetchedAt: number;
  url: string;
}

interface Source {
  url: string;
  issuerPub: Uint8Array;
  self: Self;
}

async function source(): Promise<Source | null> {
  if (FLAVOUR === 'dedicated') {
    const p = await loadProfile();
    if (!p?.distributorUrl) return null;
    const { build } = profileCerts(p);
    return { url: statusUrlOf(p.distributorUrl), issuerPub: fromBase64(p.issuerPublicKey), self: { type: 'build', buildId: build.buildId, serial: build.serial } };
  }
  const c = await knownCard();
  if (!c?.distributorUrl) return null;
  return { url: statusUrlOf(c.distributorUrl), issuerPub: fromBase64(c.issuerPublicKey), self: { type: 'card', cardId: c.cardId } };
}

/** The list held, re-verified on every read (storage is not trusted to be untouched). */
async function held(issuerPub: Uint8Array): Promise<(Held & { list: StatusList }) | undefined> {
  const h = (await messenger().storage.local.get(KEY))[KEY] as Held | undefined;
  if (!h) return undefined;
  try {
    return { ...h, list: verifyStatus(h.signed, issuerPub) };
  } catch {
    return undefined;
  }
}

export interface StatusState {
  list?: StatusList;
  /** Why this build or card is revoked, or null. */
  revoked: string | null;
  url?: string;
  fetchedAt?: number;
  lastAttempt?: Attempt;
}

export async function statusState(): Promise<StatusState> {
  const src = await source().catch(() => null);
  if (!src) return { revoked: null };
  const h = await held(src.issuerPub);
  const lastAttempt = (await messenger().storage.local.get(ATTEMPT))[ATTEMPT] as Attempt | undefined;
  return { list: h?.list, revoked: selfRevoked(h?.list, src.self), url: src.url, fetchedAt: h?.fetchedAt, ...(lastAttempt ? { lastAttempt } : {}) };
}

export interface RefreshResult {
  ok: boolean;
  url?: string;
  issuedAt?: number;
  changed?: boolean;
  /** Not fetched: the list held was fresh enough for a wake of the event page. */
  skipped?: boolean;
  error?: string;
}

let inFlight: Promise<RefreshResult> | null = null;

/**
 * One refresh at a time; failures keep the list held (offline works on the last list).
 * `minAgeMs`: skip when the held list was fetched more recently (each wake of the event page asks).
 */
export function refreshStatus(onChange?: () => Promise<void>, minAgeMs = 0): Promise<RefreshResult> {
  inFlight ??= attempt(onChange, minAgeMs).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

async function attempt(onChange: (() => Promise<void>) | undefined, minAgeMs: number): Promise<RefreshResult> {
  const { result: r, keep } = await fetchList(minAgeMs);
  if (!r.url || r.skipped) return r;
  const rec: Attempt = { at: Date.now(), ok: r.ok, ...(r.error ? { error: r.error } : {}), ...(r.issuedAt ? { issuedAt: r.issuedAt } : {}) };
  try {
    // One write: whoever reads the list finds the attempt that brought it.
    await messenger().storage.local.set({ [ATTEMPT]: rec, ...(keep ? { [KEY]: keep } : {}) });
  } catch (e) {
    return { ok: false, url: r.url, error: `the list could not be kept: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (r.changed) await onChange?.();
  return r;
}

/**
 * Each time the event page starts: right away when Thunderbird itself just started (a list
 * revoked while it was closed applies before the first send), otherwise only when the list
 * held is older than a few minutes (the page wakes for every message shown).
 */
export async function refreshOnWake(onChange?: () => Promise<void>): Promise<RefreshResult> {
  const session = messenger().storage.session;
  const started = session ? Boolean((await session.get(STARTED).catch((): Record<string, unknown> => ({})))[STARTED]) : false;
  if (session && !started) await session.set({ [STARTED]: true }).catch(() => undefined);
  return refreshStatus(onChange, started ? WAKE_MIN_AGE_MS : 0);
}

/** Fetches and checks the list; `keep` is what to store (never an older or unsigned list). */
async function fetchList(minAgeMs: number): Promise<{ result: RefreshResult; keep?: Held }> {
  const src = await source().catch(() => null);
  if (!src) return { result: { ok: false, error: 'no distributor URL known' } };
  try {
    // Read once: refreshStatus lets one refresh run at a time, so nothing replaces it meanwhile.
    const h = await held(src.issuerPub);
    if (h && minAgeMs > 0 && Date.now() - h.fetchedAt < minAgeMs) return { result: { ok: true, url: src.url, issuedAt: h.list.issuedAt, changed: false, skipped: true } };
    const res = await fetch(src.url, { cache: 'no-store', signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const signed = (await res.json()) as SignedStatus;
    const a = acceptStatus(h?.list, signed, src.issuerPub);
    return {
      result: { ok: true, url: src.url, issuedAt: a.list.issuedAt, changed: a.changed },
      keep: { signed: { body: signed.body, sig: signed.sig }, fetchedAt: Date.now(), url: src.url },
    };
  } catch (e) {
    return { result: { ok: false, url: src.url, error: e instanceof Error ? e.message : String(e) } };
  }
}
