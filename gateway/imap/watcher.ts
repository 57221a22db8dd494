// One watched IMAP folder: a connection that IDLEs (with a polling fallback), catches
// up from the last UID processed, certifies the sealcode attachments of each new message
// and records the verdict on the message as a keyword. Survives dropped connections and
// server restarts with backoff; a restart of the gateway resumes from SQLite.
//
// Exactly-once: the keyword on the message is the truth. A message that already carries
// one of ours is never labelled again, so a crash between STORE and the journal, or a
// UIDVALIDITY change that makes us re-scan everything, re-labels nothing.
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type { Logger } from 'pino';
import type { AccountConfig } from '../config.js';
import { certifyStream, worst, type Certification } from '../certify.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayState, Label } from '../state.js';
import { sealParts } from './parts.js';
import { analyzeSource, type SourceAnalysis } from './source.js';
import type { CertifyPool } from './certify-pool.js';
import type { StatusList } from '../../card/index.js';

/** The IMAP keywords the gateway sets (documented in docs/gateway.md). */
export const KEYWORDS: Record<Label, string> = {
  certified: '$SealCertified',
  uncertified: '$SealUncertified',
  tampered: '$SealTampered',
};
const OURS = new Set(Object.values(KEYWORDS).map((k) => k.toLowerCase()));
const labelOfKeyword = (flags: Iterable<string>): Label | undefined => {
  for (const f of flags) {
    const l = (Object.keys(KEYWORDS) as Label[]).find((k) => KEYWORDS[k].toLowerCase() === f.toLowerCase());
    if (l) return l;
  }
  return undefined;
};

export interface WatcherDeps {
  state: GatewayState;
  log: Logger;
  metrics: GatewayMetrics;
  issuerPub: Uint8Array;
  status: () => StatusList | undefined;
  pool: CertifyPool;
  /** Called after each message is settled (labelled, plain or skipped); for tests and benchmarks. */
  onSettled?: (e: { account: string; folder: string; uid: number; label?: Label }) => void;
}

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
const DOWNLOAD_CHUNK = 1024 * 1024;
/** Messages up to this size are fetched whole, in bulk, and walked in memory. */
const SOURCE_MAX = 1024 * 1024;
/** Messages per bulk FETCH: at most this many times SOURCE_MAX in memory. */
const BULK_FETCH_COUNT = 32;

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
        this.pollTimer = setInterval(() => this.kick(), a.pollSeconds * 1000);
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

  /**
   * One batch. Messages up to SOURCE_MAX are fetched whole, many per FETCH, and walked
   * here (or in the certify pool); larger ones are walked by the server (BODYSTRUCTURE) and their attachments
   * streamed part by part, never held whole. Verdicts are stored with one STORE per
   * keyword and journalled in one commit.
   */
  private async processBatch(client: ImapFlow, metas: FetchMessageObject[], uidValidity: string): Promise<void> {
    const acct = this.account.name;
    const folder = this.folder;
    const settled = (uid: number, label?: Label): void => this.deps.onSettled?.({ account: acct, folder, uid, label });
    const todo: FetchMessageObject[] = [];
    const big: number[] = [];
    for (const m of metas) {
      const flags = m.flags ?? new Set<string>();
      if ([...flags].some((f) => OURS.has(f.toLowerCase()))) settled(m.uid, labelOfKeyword(flags));
      else todo.push(m);
    }
    const done: Item[] = [];
    const fail = (it: { uid: number; messageId?: string }, e: unknown): void => {
      // A dead connection is retried from this batch; anything else is about the
      // message itself, logged and passed over so one bad message cannot wedge a folder.
      if (!client.usable || this.stopper.signal.aborted) throw e;
      this.deps.metrics.errors({ account: acct });
      this.log.error({ account: acct, folder, uid: it.uid, messageId: it.messageId, err: (e as Error).message }, 'message not certified: error');
      settled(it.uid);
    };
    const plain = (uid: number): void => {
      this.deps.metrics.plain({ account: acct });
      settled(uid);
    };
    const certifyAll = async (it: Item, inputs: { part: string; filename?: string; open: () => Promise<AsyncIterable<Uint8Array>> }[]): Promise<void> => {
      for (const p of inputs) {
        const c = await certifyStream(await p.open(), { issuerPub: this.deps.issuerPub, status: this.deps.status() });
        it.results.push({ ...c, part: p.part, filename: p.filename });
        it.label = worst(it.label ?? 'certified', c.label);
      }
    };

    // Sources are fetched cut at SOURCE_MAX + 1 bytes: a message that fits is walked here,
    // one that does not goes to the streaming path. (Cheaper than asking for RFC822.SIZE,
    // which a server may have to compute by reading every new message.)
    // The certify pool works on one chunk while the next is fetched; waiting for it
    // before fetching on would leave the server idle. Two chunks at most are in memory.
    let previous: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < todo.length; ) {
      const chunk = todo.slice(i, (i += BULK_FETCH_COUNT));
      // The walk happens here; the hashing and the signature check run in the certify
      // pool (on another core when it has workers) while this loop reads on.
      const jobs: Promise<void>[] = [];
      const query = { uid: true, source: { start: 0, maxLength: SOURCE_MAX + 1 } };
      for await (const r of client.fetch(chunk.map((m) => m.uid).join(','), query, { uid: true })) {
        if (this.stopper.signal.aborted) return;
        const uid = r.uid;
        if ((r.source?.length ?? 0) > SOURCE_MAX) {
          big.push(uid);
          continue;
        }
        let a: SourceAnalysis;
        try {
          a = analyzeSource(r.source ?? Buffer.alloc(0));
        } catch (e) {
          this.deps.metrics.errors({ account: acct });
          this.log.error({ account: acct, folder, uid, err: (e as Error).message }, 'message not certified: error');
          settled(uid);
          continue;
        }
        if (!a.parts.length) {
          plain(uid);
          continue;
        }
        jobs.push(
          this.deps.pool.run(a.parts, this.deps.status()).then(
            (results) => {
              const it: Item = { uid, messageId: a.messageId, from: a.from, results };
              for (const c of results) it.label = worst(it.label ?? 'certified', c.label);
              done.push(it);
            },
            (e: Error) => {
              this.deps.metrics.errors({ account: acct });
              this.log.error({ account: acct, folder, uid, err: e.message }, 'message not certified: error');
              settled(uid);
            },
          ),
        );
      }
      await previous;
      previous = Promise.all(jobs);
    }
    await previous;
    done.sort((a, b) => a.uid - b.uid);

    if (big.length) {
      const structs: FetchMessageObject[] = [];
      for await (const m of client.fetch(big.join(','), { uid: true, bodyStructure: true, envelope: true }, { uid: true })) structs.push(m);
      structs.sort((x, y) => x.uid - y.uid);
      for (const m of structs) {
        if (this.stopper.signal.aborted) return;
        const parts = sealParts(m.bodyStructure);
        if (parts.length === 0) {
          plain(m.uid);
          continue;
        }
        const it: Item = { uid: m.uid, messageId: m.envelope?.messageId, from: m.envelope?.from?.[0]?.address, results: [] };
        try {
          await certifyAll(
            it,
            parts.map((p) => ({
              part: p.part,
              filename: p.filename,
              open: async () => {
                const dl = await client.download(String(m.uid), p.part, { uid: true, chunkSize: DOWNLOAD_CHUNK });
                return (dl.content as AsyncIterable<Uint8Array> | undefined) ?? emptyStream();
              },
            })),
          );
          done.push(it);
        } catch (e) {
          fail(it, e);
        }
      }
    }
    if (done.length === 0) return;

    const byLabel = new Map<Label, Item[]>();
    for (const it of done) byLabel.set(it.label!, [...(byLabel.get(it.label!) ?? []), it]);
    for (const [label, items] of byLabel) await client.messageFlagsAdd(uidSet(items), [KEYWORDS[label]], { uid: true });

    const mainOf = (it: Item) => it.results.find((r) => r.label === it.label) ?? it.results[0]!;
    const fresh = this.deps.state.journal(() =>
      done.map((it) => this.deps.state.recordLabel(acct, folder, uidValidity, it.uid, it.label!, it.messageId, mainOf(it).reason)),
    );
    done.forEach((it, i) => {
      if (fresh[i]) this.deps.metrics.labelled({ verdict: it.label! });
      const main = mainOf(it);
      this.log.info(
        {
          event: 'verdict',
          messageId: it.messageId,
          account: acct,
          folder,
          uid: it.uid,
          sender: it.from,
          origin: main.origin,
          sealedBy: main.sealedBy,
          verdict: it.label,
          code: main.code,
          reason: main.reason,
          attachments: it.results.map((r) => ({ part: r.part, filename: r.filename, verdict: r.label, reason: r.reason })),
        },
        'verdict',
      );
    });

    const q = this.account.quarantine;
    if (q) {
      const moving = done.filter((it) => it.label !== 'certified' && this.account.quarantineVerdicts.includes(it.label as 'tampered' | 'uncertified'));
      if (moving.length) {
        await client.messageMove(uidSet(moving), q, { uid: true });
        this.log.info({ account: acct, folder, uids: moving.map((it) => it.uid), to: q }, 'moved to quarantine');
      }
    }
    for (const it of done) settled(it.uid, it.label);
  }
}

interface Item {
  uid: number;
  messageId?: string;
  from?: string;
  results: (Certification & { part: string; filename?: string })[];
  label?: Label;
}

const uidSet = (items: Item[]): string => items.map((it) => it.uid).join(',');

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

