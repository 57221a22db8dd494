// One watched IMAP folder: a connection that IDLEs (with a polling fallback), catches
// up from the last UID processed, certifies the sealcode attachments of each new message
// and records the verdict on the message as a keyword. Survives dropped connections and
// server restarts with backoff; a restart of the gateway resumes from SQLite.
//
// Exactly-once: a message whose keyword the journal records is never looked at again. A
// $Seal* keyword the journal does not know (a client set it; or a crash came between STORE
// and the journal; or UIDVALIDITY changed) is not trusted: the message is checked again,
// a keyword that agrees with the verdict stays without a new STORE, the others go.
//
// Afterwards: a client (or another process) may change the keywords of a message the
// gateway has already settled. Every flag change is watched (IDLE notifications, and
// with CONDSTORE a FETCH CHANGEDSINCE after each catch-up and poll, which also sees what
// changed while the gateway was away); the gateway's own verdict is put back and the
// change logged.
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type { Logger } from 'pino';
import type { AccountConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayState, Label } from '../state.js';
import type { Limits } from '../verdict.js';
import { examineSource, examineStream, type CheckContext, type Examined } from './examine.js';
import type { CertifyPool } from './certify-pool.js';
import type { StatusList } from '../../card/index.js';

/** The IMAP keywords the gateway sets (documented in docs/gateway.md). */
export const KEYWORDS: Record<Label, string> = {
  certified: '$SealCertified',
  partial: '$SealPartial',
  uncertified: '$SealUncertified',
  tampered: '$SealTampered',
};
/** Every keyword in this namespace is the gateway's to set; any other setter is not trusted. */
const isSealKeyword = (f: string): boolean => f.toLowerCase().startsWith('$seal');
const sameKeyword = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export interface WatcherDeps {
  state: GatewayState;
  log: Logger;
  metrics: GatewayMetrics;
  issuerPub: Uint8Array;
  status: () => StatusList | undefined;
  pool: CertifyPool;
  limits: Limits;
  /** Called after each message is settled (labelled, plain or skipped); for tests and benchmarks. */
  onSettled?: (e: { account: string; folder: string; uid: number; label?: Label }) => void;
}

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
const DOWNLOAD_CHUNK = 256 * 1024;
/**
 * Messages up to this size are fetched whole, in bulk, and walked in memory; larger ones
 * are streamed through the same walk. Only where the bytes come from differs.
 */
const SOURCE_MAX = 1024 * 1024;
/** Fetched messages being examined at once: at most this many times SOURCE_MAX in memory. */
const IN_FLIGHT = 32;

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const emptyStream = async function* (): AsyncGenerator<Uint8Array> {};

export class FolderWatcher {
  private client: ImapFlow | undefined;
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private busy = false;
  private again = false;
  private pollTimer: NodeJS.Timeout | undefined;
  /** The folder's mod-sequence up to which flag changes were checked (CONDSTORE). */
  private modseq: bigint | undefined;
  private modseqOf: string | undefined;
  /** A flag change someone else may have made is waiting to be checked. */
  private flagsDirty = true;
  /** UIDs whose flags this watcher is storing: the server's echo of that is not news. */
  private readonly storing = new Set<number>();
  connected = false;
  /** Resolves once the first catch-up after the first connection is done. */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    readonly account: AccountConfig,
    readonly folder: string,
    private readonly deps: WatcherDeps,
  ) {
    this.ready = new Promise((r) => (this.markReady = r));
  }

  private get log(): Logger {
    return this.deps.log;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    clearInterval(this.pollTimer);
    const c = this.client;
    if (c) {
      try {
        await Promise.race([c.logout(), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        /* already gone */
      }
      c.close();
    }
    await this.running;
  }

  private async loop(): Promise<void> {
    let backoff = BACKOFF_FIRST_MS;
    let first = true;
    while (!this.stopper.signal.aborted) {
      const a = this.account;
      const client = new ImapFlow({
        host: a.host,
        port: a.port,
        secure: a.secure,
        auth: { user: a.user, pass: a.password },
        tls: { rejectUnauthorized: !a.tlsInsecure },
        logger: false,
        // IDLE right after a catch-up, so a new message is seen at once.
        autoIdleDelay: 100,
        // Some servers end IDLE silently after ~30 min; restart it well before.
        maxIdleTime: 5 * 60_000,
        missingIdleCommand: 'NOOP',
        connectionTimeout: 15_000,
      });
      this.client = client;
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.on('error', (e: Error) => this.log.warn({ account: a.name, folder: this.folder, err: e.message }, 'imap connection error'));
      try {
        await client.connect();
        if (this.stopper.signal.aborted) break;
        if (a.quarantine) await this.ensureFolder(client, a.quarantine);
        await client.mailboxOpen(this.folder);
        this.connected = true;
        if (!first) this.deps.metrics.reconnects({ account: a.name, folder: this.folder });
        this.log.info({ account: a.name, folder: this.folder, reconnect: !first }, 'imap folder watched');
        backoff = BACKOFF_FIRST_MS;
        client.on('exists', () => this.kick());
        client.on('flags', (e: { uid?: number }) => {
          if (e.uid !== undefined && this.storing.has(e.uid)) return;
          this.flagsDirty = true;
          void this.kick();
        });
        // Changes made while disconnected, and notifications a server did not send.
        this.flagsDirty = true;
        this.pollTimer = setInterval(() => {
          this.flagsDirty = true;
          void this.kick();
        }, a.pollSeconds * 1000);
        await this.kick();
        if (first) this.markReady();
        first = false;
        await Promise.race([closed, new Promise((r) => this.stopper.signal.addEventListener('abort', r, { once: true }))]);
      } catch (e) {
        if (!this.stopper.signal.aborted)
          this.log.warn({ account: a.name, folder: this.folder, err: (e as Error).message, retryMs: backoff }, 'imap connection lost');
      } finally {
        clearInterval(this.pollTimer);
        this.connected = false;
        client.close();
      }
      if (this.stopper.signal.aborted) break;
      if (first) {
        // Counted as reconnects too: the first connection failed.
        this.deps.metrics.reconnects({ account: a.name, folder: this.folder });
      }
      first = false;
      // Jitter keeps many watchers from hammering a restarted server in step.
      await sleep(backoff * (0.75 + Math.random() / 2), this.stopper.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
    this.markReady();
  }

  private async ensureFolder(client: ImapFlow, path: string): Promise<void> {
    const list = await client.list();
    if (!list.some((m) => m.path === path)) {
      try {
        await client.mailboxCreate(path);
      } catch (e) {
        this.log.debug({ err: (e as Error).message }, 'quarantine folder not created (exists?)');
      }
    }
  }

  /** Runs a catch-up now, or once more after the running one. */
  private async kick(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.catchUp();
        if (this.flagsDirty) {
          this.flagsDirty = false;
          await this.watchKeywords();
        }
      } while (this.again && !this.stopper.signal.aborted);
    } catch (e) {
      if (!this.stopper.signal.aborted) {
        this.log.warn({ account: this.account.name, folder: this.folder, err: (e as Error).message }, 'catch-up interrupted');
        // Whatever broke, start over on a fresh connection.
        this.client?.close();
      }
    } finally {
      this.busy = false;
    }
  }

  private async catchUp(): Promise<void> {
    const client = this.client;
    if (!client?.mailbox || this.stopper.signal.aborted) return;
    const { state } = this.deps;
    const acct = this.account.name;
    const uidValidity = String(client.mailbox.uidValidity);
    let st = state.folder(acct, this.folder);
    if (!st || st.uidValidity !== uidValidity) {
      if (st) this.log.warn({ account: acct, folder: this.folder, was: st.uidValidity, now: uidValidity }, 'UIDVALIDITY changed: re-scanning the folder');
      state.resetFolder(acct, this.folder, uidValidity);
      st = { uidValidity, lastUid: 0 };
    }
    let last = st.lastUid;
    for (;;) {
      if (this.stopper.signal.aborted) return;
      const uids = ((await client.search({ uid: `${last + 1}:*` }, { uid: true })) || []).filter((u) => u > last).sort((x, y) => x - y);
      if (uids.length === 0) return;
      const batch = uids.slice(0, this.account.batchSize);
      const metas: FetchMessageObject[] = [];
      // Flags only (from the index); contents follow.
      for await (const m of client.fetch(batch.join(','), { uid: true, flags: true }, { uid: true })) metas.push(m);
      metas.sort((x, y) => x.uid - y.uid);
      await this.processBatch(client, metas, uidValidity);
      if (this.stopper.signal.aborted) return;
      // Messages expunged between SEARCH and FETCH are simply gone.
      last = batch[batch.length - 1]!;
      state.advance(acct, this.folder, uidValidity, last);
    }
  }

  /** Runs a STORE of our own; the FETCH FLAGS the server answers it with are not someone else's change. */
  private async ownStore<T>(uids: number[], store: () => Promise<T>): Promise<T> {
    for (const u of uids) this.storing.add(u);
    try {
      return await store();
    } finally {
      for (const u of uids) this.storing.delete(u);
    }
  }

  /**
   * Puts the gateway's verdict back on settled messages whose $Seal* keywords someone
   * else changed: a keyword added or removed by a client after labelling. With CONDSTORE
   * only messages changed since the last check are fetched; without it, all settled ones.
   */
  private async watchKeywords(): Promise<void> {
    const client = this.client;
    if (!client?.mailbox || this.stopper.signal.aborted) return;
    const acct = this.account.name;
    const folder = this.folder;
    const uidValidity = String(client.mailbox.uidValidity);
    const last = this.deps.state.folder(acct, folder)?.lastUid ?? 0;
    if (this.modseqOf !== uidValidity) this.modseq = undefined;
    if (last === 0) return;
    const changed: { uid: number; found: string[]; want?: string }[] = [];
    let top = this.modseq;
    const opts = this.modseq !== undefined ? { uid: true, changedSince: this.modseq } : { uid: true };
    for await (const m of client.fetch(`1:${last}`, { uid: true, flags: true }, opts)) {
      if (m.modseq !== undefined && (top === undefined || m.modseq > top)) top = m.modseq;
      if (m.uid > last) continue;
      const found = [...(m.flags ?? [])].filter(isSealKeyword);
      const label = this.deps.state.labelOf(acct, folder, uidValidity, m.uid);
      const want = label ? KEYWORDS[label] : undefined;
      if (found.length === (want ? 1 : 0) && (!want || sameKeyword(found[0]!, want))) continue;
      changed.push({ uid: m.uid, found, want });
    }
    for (const c of changed) {
      const removed = c.found.filter((k) => !c.want || !sameKeyword(k, c.want));
      const restored = c.want && !c.found.some((k) => sameKeyword(k, c.want!)) ? c.want : undefined;
      await this.ownStore([c.uid], async () => {
        if (removed.length) await client.messageFlagsRemove(String(c.uid), removed, { uid: true });
        if (restored) await client.messageFlagsAdd(String(c.uid), [restored], { uid: true });
      });
      this.deps.metrics.keywordsRestored({ account: acct });
      this.log.warn(
        { account: acct, folder, uid: c.uid, found: c.found, removed, restored, verdict: c.want ?? 'none' },
        "$Seal keywords changed after labelling: the gateway's verdict restored",
      );
    }
    this.log.debug({ account: acct, folder, since: this.modseq?.toString(), changed: changed.length }, 'keywords checked');
    // Our own STOREs raised the mod-sequence too; they are seen (and agree) next time.
    this.modseq = top;
    this.modseqOf = uidValidity;
  }

  /**
   * One batch. Every message is walked by the same streaming MIME walk: those up to
   * SOURCE_MAX are fetched whole, many per FETCH, and their seals certified in the pool;
   * larger ones are streamed, their seals certified as they are decoded. A message
   * already labelled by the gateway (keyword and journal agree) is passed over; one
   * carrying a $Seal* keyword the gateway did not set is checked like any other, and the
   * keywords that disagree with the verdict are removed. Verdicts are stored with one
   * STORE per keyword and journalled in one commit.
   */
  private async processBatch(client: ImapFlow, metas: FetchMessageObject[], uidValidity: string): Promise<void> {
    const acct = this.account.name;
    const folder = this.folder;
    const { state, metrics } = this.deps;
    const settled = (uid: number, label?: Label): void => this.deps.onSettled?.({ account: acct, folder, uid, label });
    const ctx: CheckContext = { issuerPub: this.deps.issuerPub, status: this.deps.status(), owner: this.account.owners[folder], limits: this.deps.limits };
    const todo: FetchMessageObject[] = [];
    /** $Seal* keywords found on messages the gateway has not labelled. */
    const preset = new Map<number, string[]>();
    for (const m of metas) {
      const ours = [...(m.flags ?? [])].filter(isSealKeyword);
      if (ours.length) {
        const mine = state.labelOf(acct, folder, uidValidity, m.uid);
        if (mine && ours.length === 1 && sameKeyword(ours[0]!, KEYWORDS[mine])) {
          settled(m.uid, mine);
          continue;
        }
        preset.set(m.uid, ours);
      }
      todo.push(m);
    }
    const done: Item[] = [];
    const failed = (uid: number, e: unknown): void => {
      // A dead connection is retried from this batch; anything else is about the
      // message itself, logged and passed over so one bad message cannot wedge a folder.
      if (!client.usable || this.stopper.signal.aborted) throw e;
      metrics.errors({ account: acct });
      this.log.error({ account: acct, folder, uid, err: (e as Error).message }, 'message not certified: error');
      settled(uid);
    };
    const examined = (uid: number, x: Examined): void => void done.push({ uid, x, preset: preset.get(uid) ?? [] });

    // Sources are fetched cut at SOURCE_MAX + 1 bytes: a message that fits is walked here,
    // one that does not is streamed afterwards. (Cheaper than asking for RFC822.SIZE,
    // which a server may have to compute by reading every new message.)
    // One FETCH for the whole batch: a FETCH per few messages left the server idle for a
    // round trip each time. The certify pool works while later messages arrive; past
    // IN_FLIGHT messages the oldest is waited for before the next response is read
    // (imapflow reads no further until then), so memory stays bounded.
    const big: number[] = [];
    const jobs: Promise<void>[] = [];
    const query = { uid: true, source: { start: 0, maxLength: SOURCE_MAX + 1 } };
    if (todo.length)
      for await (const r of client.fetch(todo.map((m) => m.uid).join(','), query, { uid: true })) {
        if (this.stopper.signal.aborted) return;
        const uid = r.uid;
        if ((r.source?.length ?? 0) > SOURCE_MAX) {
          big.push(uid);
          continue;
        }
        if (jobs.length >= IN_FLIGHT) await jobs.shift();
        jobs.push(
          examineSource(r.source ?? Buffer.alloc(0), ctx, this.deps.pool).then(
            (x) => examined(uid, x),
            (e: Error) => {
              metrics.errors({ account: acct });
              this.log.error({ account: acct, folder, uid, err: e.message }, 'message not certified: error');
              settled(uid);
            },
          ),
        );
      }
    await Promise.all(jobs);

    for (const uid of big.sort((a, b) => a - b)) {
      if (this.stopper.signal.aborted) return;
      try {
        const dl = await client.download(String(uid), undefined, { uid: true, chunkSize: DOWNLOAD_CHUNK });
        const content = dl.content as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
        try {
          examined(uid, await examineStream(content ?? emptyStream(), ctx));
        } finally {
          // A limit may have stopped the walk early: the rest is not wanted.
          content?.destroy?.();
        }
      } catch (e) {
        failed(uid, e);
      }
    }
    done.sort((a, b) => a.uid - b.uid);

    // Keywords the gateway did not set go first, whatever the verdict.
    for (const it of done) {
      const keep = it.x.verdict ? KEYWORDS[it.x.verdict.label] : undefined;
      const foreign = it.preset.filter((k) => keep === undefined || !sameKeyword(k, keep));
      if (foreign.length) {
        await this.ownStore([it.uid], () => client.messageFlagsRemove(String(it.uid), foreign, { uid: true }));
        metrics.foreignKeywords({ account: acct }, foreign.length);
      }
      // Not in the journal: a client set them, or they predate a UIDVALIDITY change.
      // Either way they were not trusted; the message was checked like any other.
      if (it.preset.length)
        this.log[foreign.length ? 'warn' : 'info'](
          { account: acct, folder, uid: it.uid, messageId: it.x.walk.messageId, found: it.preset, removed: foreign },
          foreign.length ? 'removed $Seal keywords the gateway had not set' : '$Seal keyword the gateway had not set confirmed by the check',
        );
      if (it.x.walk.exceeded) metrics.tooComplex({ limit: it.x.walk.exceeded });
    }
    for (const it of done.filter((d) => !d.x.verdict)) {
      metrics.plain({ account: acct });
      settled(it.uid);
    }
    const labelled = done.filter((d) => d.x.verdict);
    if (labelled.length === 0) return;

    const byLabel = new Map<Label, Item[]>();
    for (const it of labelled) {
      const label = it.x.verdict!.label;
      // A keyword already there (set by a client, now confirmed) is not stored again.
      if (it.preset.some((k) => sameKeyword(k, KEYWORDS[label]))) continue;
      byLabel.set(label, [...(byLabel.get(label) ?? []), it]);
    }
    for (const [label, items] of byLabel)
      await this.ownStore(
        items.map((it) => it.uid),
        () => client.messageFlagsAdd(uidSet(items), [KEYWORDS[label]], { uid: true }),
      );

    const fresh = state.journal(() =>
      labelled.map((it) => state.recordLabel(acct, folder, uidValidity, it.uid, it.x.verdict!.label, it.x.walk.messageId, it.x.verdict!.reason)),
    );
    labelled.forEach((it, i) => {
      const v = it.x.verdict!;
      if (fresh[i]) metrics.labelled({ verdict: v.label });
      const main = v.decidedBy !== undefined ? it.x.results[v.decidedBy] : it.x.results[0];
      this.log.info(
        {
          event: 'verdict',
          messageId: it.x.walk.messageId,
          account: acct,
          folder,
          uid: it.uid,
          sender: it.x.walk.from,
          origin: main?.origin,
          sealedBy: main?.sealedBy,
          verdict: v.label,
          code: main && v.decidedBy !== undefined ? main.code : undefined,
          reason: v.reason,
          attachments: it.x.results.map((r) => ({ part: r.part, filename: r.filename, verdict: r.label, reason: r.reason })),
          unsealed: it.x.walk.unsealed.map((l) => ({ part: l.part, filename: l.filename, type: l.contentType })),
          ...(it.x.walk.exceeded ? { notExamined: it.x.walk.exceeded } : {}),
        },
        'verdict',
      );
    });

    const q = this.account.quarantine;
    if (q) {
      const moving = labelled.filter((it) => it.x.verdict!.label !== 'certified' && (this.account.quarantineVerdicts as string[]).includes(it.x.verdict!.label));
      if (moving.length) {
        await client.messageMove(uidSet(moving), q, { uid: true });
        this.log.info({ account: acct, folder, uids: moving.map((it) => it.uid), to: q }, 'moved to quarantine');
      }
    }
    for (const it of labelled) settled(it.uid, it.x.verdict!.label);
  }
}

interface Item {
  uid: number;
  x: Examined;
  /** $Seal* keywords on the message that the gateway had not set */
  preset: string[];
}

const uidSet = (items: Item[]): string => items.map((it) => it.uid).join(',');

