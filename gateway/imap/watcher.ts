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
  /** Called after each message is settled (labelled, plain or skipped); for tests and benchmarks. */
  onSettled?: (e: { account: string; folder: string; uid: number; label?: Label }) => void;
}

const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30_000;
const DOWNLOAD_CHUNK = 1024 * 1024;

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
      // Metadata only: the attachments are streamed one by one afterwards (no commands
      // may be issued while a FETCH is being iterated).
      for await (const m of client.fetch(batch.join(','), { uid: true, flags: true, bodyStructure: true, envelope: true }, { uid: true })) metas.push(m);
      metas.sort((x, y) => x.uid - y.uid);
      for (const m of metas) {
        if (this.stopper.signal.aborted) return;
        await this.processMessage(client, m, uidValidity);
        state.advance(acct, this.folder, uidValidity, m.uid);
      }
      // Messages expunged between SEARCH and FETCH are simply gone.
      last = batch[batch.length - 1]!;
      state.advance(acct, this.folder, uidValidity, last);
    }
  }

  private async processMessage(client: ImapFlow, m: FetchMessageObject, uidValidity: string): Promise<void> {
    const acct = this.account.name;
    const folder = this.folder;
    const settled = (label?: Label): void => this.deps.onSettled?.({ account: acct, folder, uid: m.uid, label });
    const flags = m.flags ?? new Set<string>();
    if ([...flags].some((f) => OURS.has(f.toLowerCase()))) {
      settled(labelOfKeyword(flags));
      return;
    }
    const parts = sealParts(m.bodyStructure);
    if (parts.length === 0) {
      this.deps.metrics.plain({ account: acct });
      settled();
      return;
    }
    let label: Label = 'certified';
    const results: (Certification & { part: string; filename?: string })[] = [];
    try {
      for (const p of parts) {
        const dl = await client.download(String(m.uid), p.part, { uid: true, chunkSize: DOWNLOAD_CHUNK });
        const input = (dl.content as AsyncIterable<Uint8Array> | undefined) ?? emptyStream();
        const c = await certifyStream(input, { issuerPub: this.deps.issuerPub, status: this.deps.status() });
        results.push({ ...c, part: p.part, filename: p.filename });
        label = worst(label, c.label);
      }
    } catch (e) {
      // A dead connection is retried from this message; anything else is about the
      // message itself, logged and passed over so one bad message cannot wedge a folder.
      if (!client.usable || this.stopper.signal.aborted) throw e;
      this.deps.metrics.errors({ account: acct });
      this.log.error({ account: acct, folder, uid: m.uid, messageId: m.envelope?.messageId, err: (e as Error).message }, 'message not certified: error');
      settled();
      return;
    }
    await client.messageFlagsAdd(String(m.uid), [KEYWORDS[label]], { uid: true });
    const main = results.find((r) => r.label === label) ?? results[0]!;
    const fresh = this.deps.state.recordLabel(acct, folder, uidValidity, m.uid, label, m.envelope?.messageId, main.reason);
    if (fresh) this.deps.metrics.labelled({ verdict: label });
    const from = m.envelope?.from?.[0];
    this.log.info(
      {
        event: 'verdict',
        messageId: m.envelope?.messageId,
        account: acct,
        folder,
        uid: m.uid,
        sender: from?.address,
        origin: main.origin,
        sealedBy: main.sealedBy,
        verdict: label,
        code: main.code,
        reason: main.reason,
        attachments: results.map((r) => ({ part: r.part, filename: r.filename, verdict: r.label, reason: r.reason })),
      },
      'verdict',
    );
    const q = this.account.quarantine;
    if (q && label !== 'certified' && this.account.quarantineVerdicts.includes(label)) {
      await client.messageMove(String(m.uid), q, { uid: true });
      this.log.info({ account: acct, folder, uid: m.uid, to: q }, 'moved to quarantine');
    }
    settled(label);
  }
}
