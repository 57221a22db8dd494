// Keyless certification of one sealcode attachment, as the gateway does it: the
// certificate chain to the issuer, the sender's signature over the whole container,
// the policy against the addressees the header names, the relation to the mailbox's
// owner when the config names one, and the status list when one is configured. The
// result is one of three labels, with the reason.
import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { describeCert, isSealError, verifySealed, verifyStatus, type SignedStatus, type StatusList } from '../card/index.js';
import { nodePrimitives } from '../card/node.js';
import { ownerRelation, type MailboxOwner } from '../card/owner.js';
import type { SealLabel } from './verdict.js';

export interface Certification {
  label: SealLabel;
  /** SealError code for refusals and damage; absent when certified. */
  code?: string;
  reason: string;
  /** `card` / `dedicated`, when the header could be read. */
  origin?: string;
  sealedBy?: string;
}

export async function certifyStream(
  input: AsyncIterable<Uint8Array>,
  o: { issuerPub: Uint8Array; status?: StatusList; now?: number; owner?: MailboxOwner },
): Promise<Certification> {
  try {
    const r = await verifySealed(input, { issuerPub: o.issuerPub, status: o.status, now: o.now, primitives: nodePrimitives });
    const v = r.verdict;
    const refusal = v.certified && o.owner ? ownerRelation(v.origin, r.header.stanzas, o.owner) : null;
    if (refusal) return { label: 'uncertified', code: 'REFUSED', reason: refusal, origin: r.header.origin, sealedBy: describeCert(v.origin) };
    return {
      label: v.certified ? 'certified' : 'uncertified',
      code: v.code,
      reason: v.reason,
      origin: r.header.origin,
      sealedBy: describeCert(v.origin),
    };
  } catch (e) {
    if (!isSealError(e)) throw e;
    // Damage and foreign certificates (TAMPERED in card/) are tampered; policy-free
    // refusals such as NOT_FOR_US cannot happen keylessly but read as uncertified.
    const label: SealLabel = e.code === 'MALFORMED' || e.code === 'TAMPERED' ? 'tampered' : 'uncertified';
    return { label, code: e.code, reason: e.message };
  }
}

/**
 * The distributor's signed status list, from a URL or a file, refreshed in the
 * background. The gateway works without it: until one verifies, none is applied.
 */
export class StatusSource {
  private list: StatusList | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cfg: { url?: string; file?: string; refreshSeconds: number },
    private readonly issuerPub: Uint8Array,
    private readonly log: Logger,
  ) {}

  get current(): StatusList | undefined {
    return this.list;
  }

  async refresh(): Promise<void> {
    try {
      let text: string;
      if (this.cfg.file) text = await fs.readFile(this.cfg.file, 'utf8');
      else {
        const res = await fetch(this.cfg.url!, { signal: AbortSignal.timeout(15_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      }
      const list = verifyStatus(JSON.parse(text) as SignedStatus, this.issuerPub);
      // Never go back to an older list (a replayed file or a stale cache).
      if (!this.list || list.issuedAt >= this.list.issuedAt) this.list = list;
      this.log.debug({ issuedAt: list.issuedAt }, 'status list loaded');
    } catch (e) {
      this.log.warn({ err: (e as Error).message, source: this.cfg.file ? 'file' : 'url' }, 'status list not refreshed');
    }
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.cfg.refreshSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
