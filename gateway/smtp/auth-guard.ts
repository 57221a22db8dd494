// Failed AUTH, handled the way Postfix and Dovecot do: each failure is answered after a
// delay that grows with the failures counted for the client address and for the user
// name; past `maxFailures` within `windowSeconds` either one is locked out for
// `lockoutSeconds` (even the right password is refused meanwhile). The counters are
// rate-limiter-flexible's in-memory limiters: right for one gateway process; several
// processes behind one name would each count on their own. The log gets one summary
// line per burst of failures from one address, not one line per try.
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface AuthLimits {
  maxTriesPerConnection: number;
  maxFailures: number;
  windowSeconds: number;
  lockoutSeconds: number;
  delayMs: number;
  maxDelayMs: number;
  /** a burst ends after this long without a failure from its address; then it is logged */
  burstQuietSeconds: number;
}

interface Burst {
  failures: number;
  users: Set<string>;
  lockedOut: boolean;
  refusedWhileLocked: number;
  first: number;
  last: number;
  timer?: NodeJS.Timeout;
}

const MAX_TRACKED = 1000;
const MAX_USERS_LISTED = 5;
// A burst that never goes quiet is still reported, once a minute at most.
const MAX_BURST_MS = 60_000;

export class AuthGuard {
  private readonly byAddress: RateLimiterMemory;
  private readonly byUser: RateLimiterMemory;
  private readonly bursts = new Map<string, Burst>();

  constructor(
    private readonly limits: AuthLimits,
    private readonly log: Logger,
  ) {
    const o = { points: limits.maxFailures, duration: limits.windowSeconds, blockDuration: limits.lockoutSeconds };
    this.byAddress = new RateLimiterMemory({ ...o, keyPrefix: 'addr' });
    this.byUser = new RateLimiterMemory({ ...o, keyPrefix: 'user' });
  }

  /** Milliseconds of lock-out left for this address or user name; 0 when free to try. */
  async lockedFor(address: string, user: string): Promise<number> {
    const [a, u] = await Promise.all([this.byAddress.get(address), this.byUser.get(userKey(user))]);
    const left = (r: RateLimiterRes | null): number => (r && r.consumedPoints > this.limits.maxFailures ? Math.max(1, r.msBeforeNext) : 0);
    const ms = Math.max(left(a), left(u));
    if (ms) this.burst(address, user).refusedWhileLocked++;
    return ms;
  }

  /** Counts a failure; resolves after the delay this failure earns, with whether it locked the address or user out. */
  async failed(address: string, user: string): Promise<{ lockedOut: boolean }> {
    const count = async (l: RateLimiterMemory, key: string): Promise<{ n: number; over: boolean }> => {
      try {
        const r = await l.consume(key);
        return { n: r.consumedPoints, over: false };
      } catch (r) {
        if (r instanceof RateLimiterRes) return { n: r.consumedPoints, over: true };
        throw r;
      }
    };
    const [a, u] = await Promise.all([count(this.byAddress, address), count(this.byUser, userKey(user))]);
    const b = this.burst(address, user);
    b.failures++;
    const lockedOut = a.over || u.over;
    if (lockedOut) b.lockedOut = true;
    const delay = Math.min(this.limits.delayMs * Math.max(a.n, u.n), this.limits.maxDelayMs);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return { lockedOut };
  }

  /** A right password: the user's count starts again (the address's does not, or one account would shield a spray). */
  async succeeded(user: string): Promise<void> {
    await this.byUser.delete(userKey(user));
  }

  private burst(address: string, user: string): Burst {
    const key = this.bursts.has(address) || this.bursts.size < MAX_TRACKED ? address : '(other addresses)';
    let b = this.bursts.get(key);
    const now = Date.now();
    if (!b) {
      b = { failures: 0, users: new Set(), lockedOut: false, refusedWhileLocked: 0, first: now, last: now };
      this.bursts.set(key, b);
    }
    b.last = now;
    if (b.users.size < MAX_USERS_LISTED) b.users.add(user.slice(0, 64));
    this.schedule(key, b);
    return b;
  }

  private schedule(key: string, b: Burst): void {
    clearTimeout(b.timer);
    const quiet = this.limits.burstQuietSeconds * 1000;
    const wait = Math.max(0, Math.min(quiet, b.first + MAX_BURST_MS - Date.now()));
    b.timer = setTimeout(() => this.report(key), wait);
    b.timer.unref();
  }

  private report(key: string): void {
    const b = this.bursts.get(key);
    if (!b) return;
    clearTimeout(b.timer);
    this.bursts.delete(key);
    if (b.failures === 0 && b.refusedWhileLocked === 0) return;
    this.log.warn(
      {
        address: key,
        failures: b.failures,
        refusedWhileLocked: b.refusedWhileLocked,
        users: [...b.users],
        lockedOut: b.lockedOut,
        seconds: Math.round((b.last - b.first) / 100) / 10,
      },
      'smtp authentication failures',
    );
  }

  /** Logs the bursts still open (at shutdown). */
  flush(): void {
    for (const k of [...this.bursts.keys()]) this.report(k);
  }
}

const userKey = (u: string): string => u.trim().toLowerCase();
