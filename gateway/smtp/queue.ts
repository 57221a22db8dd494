// The durable outbox, as mail transfer agents keep one: a message is written to its
// own file and fsync'd, then journalled in SQLite (synchronous=FULL); only then is the
// client told it was accepted. A delivery worker relays due messages with nodemailer,
// marks them delivered in the journal the moment the upstream says 250, and retries
// failures with exponential backoff. After a crash, the journal says what is still
// owed; the only window for a duplicate is a crash between the upstream's 250 and our
// journal commit (milliseconds), the same window every MTA has.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { SmtpConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayState, OutboxRow } from '../state.js';
import { garbageMeter } from '../../card/gc-nudge.js';

/** The queued file, streamed (never read whole), with a minor collection every few MiB of it. */
async function* metered(file: string): AsyncGenerator<Buffer> {
  const meter = garbageMeter();
  for await (const c of fs.createReadStream(file)) {
    meter((c as Buffer).length);
    yield c as Buffer;
  }
}

export class Outbox {
  readonly dir: string;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private pass: Promise<void> = Promise.resolve();

  constructor(
    private readonly cfg: SmtpConfig,
    private readonly state: GatewayState,
    private readonly log: Logger,
    private readonly metrics: GatewayMetrics,
    dataDir: string,
  ) {
    this.dir = path.join(dataDir, 'queue');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Removes files never journalled (crash before the ack) or already delivered; failed ones stay for the admin. */
  sweepOrphans(): void {
    for (const f of fs.readdirSync(this.dir)) {
      const id = f.replace(/\.(eml|tmp)$/, '');
      const row = this.state.outbox(id);
      if (!row || row.state === 'delivered') fs.rmSync(path.join(this.dir, f), { force: true });
    }
  }

  /** A new message id, and the file the rewrite writes it to before `enqueue`. */
  reserve(): { id: string; tmp: string } {
    const id = `${Date.now().toString(36)}.${crypto.randomBytes(8).toString('hex')}`;
    return { id, tmp: path.join(this.dir, `${id}.tmp`) };
  }

  /** Journals a message whose `.tmp` file is written and fsync'd; resolves once the name and the row are durable. */
  async enqueue(id: string, mailFrom: string, rcpt: string[]): Promise<void> {
    const file = path.join(this.dir, `${id}.eml`);
    const tmp = path.join(this.dir, `${id}.tmp`);
    const size = (await fsp.stat(tmp)).size;
    await fsp.rename(tmp, file);
    const dh = await fsp.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    this.state.enqueue({ id, mailFrom, rcpt, file, size });
  }

  start(): void {
    this.sweepOrphans();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    clearTimeout(this.timer);
    this.pass = this.drain().finally(() => {
      this.running = false;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
        return;
      }
      const next = this.state.nextDueAt();
      if (next !== undefined) {
        this.timer = setTimeout(() => this.kick(), Math.max(50, Math.min(next - Date.now(), 60_000)));
        this.timer.unref();
      }
    });
  }

  private backoffMs(attempts: number): number {
    const r = this.cfg.retry;
    return Math.min(r.firstSeconds * 1000 * 2 ** attempts, r.maxSeconds * 1000);
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const rows = this.state.due(Date.now());
      if (rows.length === 0) return;
      for (const row of rows) {
        if (this.stopped) return;
        await this.deliver(row);
      }
    }
  }

  private transport() {
    const u = this.cfg.upstream;
    return nodemailer.createTransport({
      host: u.host,
      port: u.port,
      secure: u.secure,
      requireTLS: u.requireTLS,
      auth: u.user ? { user: u.user, pass: u.password } : undefined,
      tls: { rejectUnauthorized: !u.tlsInsecure },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
      logger: false,
    });
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const t = this.transport();
    try {
      const info = await t.sendMail({ envelope: { from: row.mailFrom, to: row.rcpt }, raw: Readable.from(metered(row.file)) });
      this.state.markDelivered(row.id);
      this.metrics.smtpDelivered();
      this.log.info({ id: row.id, to: row.rcpt, response: String(info.response).slice(0, 200), attempts: row.attempts + 1 }, 'relayed');
      await fsp.rm(row.file, { force: true });
    } catch (e) {
      const err = e as Error & { responseCode?: number; code?: string };
      const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500;
      const expired = Date.now() - row.created > this.cfg.retry.giveUpHours * 3600_000;
      if (permanent || expired) {
        this.state.markFailed(row.id, err.message);
        this.metrics.smtpFailed();
        this.log.error({ id: row.id, to: row.rcpt, err: err.message, code: err.responseCode ?? err.code }, 'relay failed permanently; message kept in the queue folder');
      } else {
        const wait = this.backoffMs(row.attempts);
        this.state.markRetry(row.id, Date.now() + wait, err.message);
        this.metrics.smtpDeferred();
        this.log.warn({ id: row.id, err: err.message, code: err.responseCode ?? err.code, retryMs: wait }, 'relay deferred');
      }
    } finally {
      t.close();
    }
  }
}
