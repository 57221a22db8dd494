// The gateway's durable state in one SQLite file (WAL): per watched folder its
// UIDVALIDITY and the last UID processed, a journal of the messages labelled, and the
// SMTP outbox journal. The outbox goes through a synchronous=FULL connection (a commit
// is on disk before the client hears "queued"); the IMAP bookkeeping through a
// synchronous=NORMAL one, which survives any process crash: the keyword on the message,
// not this high-water mark, is what prevents a second label, so losing the last few
// commits to a power cut costs only a re-check.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Label = 'certified' | 'partial' | 'uncertified' | 'tampered';

export interface FolderState {
  uidValidity: string;
  lastUid: number;
}

export interface OutboxRow {
  id: string;
  state: 'queued' | 'delivered' | 'failed';
  mailFrom: string;
  rcpt: string[];
  file: string;
  size: number;
  attempts: number;
  nextAt: number;
  created: number;
  lastError: string | null;
}

interface OutboxDb {
  id: string;
  state: OutboxRow['state'];
  mail_from: string;
  rcpt: string;
  file: string;
  size: number;
  attempts: number;
  next_at: number;
  created: number;
  last_error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS folder_state (
  account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity TEXT NOT NULL, last_uid INTEGER NOT NULL,
  PRIMARY KEY (account, folder));
CREATE TABLE IF NOT EXISTS labelled (
  account TEXT NOT NULL, folder TEXT NOT NULL, uidvalidity TEXT NOT NULL, uid INTEGER NOT NULL,
  message_id TEXT, label TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (account, folder, uidvalidity, uid));
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY, state TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt TEXT NOT NULL, file TEXT NOT NULL,
  size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created INTEGER NOT NULL,
  updated INTEGER NOT NULL, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
`;

export class GatewayState {
  /** outbox: synchronous=FULL */
  readonly db: Database.Database;
  /** folder state and label journal: synchronous=NORMAL */
  private readonly fast: Database.Database;

  constructor(readonly dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = path.join(dataDir, 'gateway.sqlite');
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.fast = new Database(file);
    this.fast.pragma('synchronous = NORMAL');
    this.fast.pragma('busy_timeout = 5000');
  }

  close(): void {
    this.fast.close();
    this.db.close();
  }

  // --- IMAP -------------------------------------------------------------------------

  folder(account: string, folder: string): FolderState | undefined {
    const r = this.fast.prepare('SELECT uidvalidity, last_uid FROM folder_state WHERE account = ? AND folder = ?').get(account, folder) as
      | { uidvalidity: string; last_uid: number }
      | undefined;
    return r && { uidValidity: r.uidvalidity, lastUid: r.last_uid };
  }

  /** Records a UIDVALIDITY; a changed one restarts the folder from UID 0 (a full re-scan). */
  resetFolder(account: string, folder: string, uidValidity: string): void {
    this.fast
      .prepare(
        `INSERT INTO folder_state (account, folder, uidvalidity, last_uid) VALUES (?, ?, ?, 0)
         ON CONFLICT (account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0`,
      )
      .run(account, folder, uidValidity);
  }

  /** Moves the high-water mark forward only, and only for the UIDVALIDITY it was read under. */
  advance(account: string, folder: string, uidValidity: string, uid: number): void {
    this.fast
      .prepare('UPDATE folder_state SET last_uid = MAX(last_uid, ?) WHERE account = ? AND folder = ? AND uidvalidity = ?')
      .run(uid, account, folder, uidValidity);
  }

  /** Journals a label; false when this message was already journalled. */
  recordLabel(
    account: string,
    folder: string,
    uidValidity: string,
    uid: number,
    label: Label,
    messageId: string | undefined,
    reason: string,
  ): boolean {
    const r = this.fast
      .prepare(
        `INSERT OR IGNORE INTO labelled (account, folder, uidvalidity, uid, message_id, label, reason, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(account, folder, uidValidity, uid, messageId ?? null, label, reason, Date.now());
    return r.changes === 1;
  }

  /** The label journalled for a message, if the gateway labelled it under this UIDVALIDITY. */
  labelOf(account: string, folder: string, uidValidity: string, uid: number): Label | undefined {
    const r = this.fast
      .prepare('SELECT label FROM labelled WHERE account = ? AND folder = ? AND uidvalidity = ? AND uid = ?')
      .get(account, folder, uidValidity, uid) as { label: Label } | undefined;
    return r?.label;
  }

  /** Runs fn in one transaction of the IMAP connection (one commit per batch). */
  journal<T>(fn: () => T): T {
    return this.fast.transaction(fn)();
  }

  labelCount(): number {
    return (this.fast.prepare('SELECT COUNT(*) AS n FROM labelled').get() as { n: number }).n;
  }

  // --- SMTP outbox --------------------------------------------------------------------

  enqueue(row: { id: string; mailFrom: string; rcpt: string[]; file: string; size: number }): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO outbox (id, state, mail_from, rcpt, file, size, attempts, next_at, created, updated)
         VALUES (?, 'queued', ?, ?, ?, ?, 0, ?, ?, ?)`,
      )
      .run(row.id, row.mailFrom, JSON.stringify(row.rcpt), row.file, row.size, now, now, now);
  }

  due(now: number, limit = 20): OutboxRow[] {
    const rows = this.db
      .prepare(`SELECT * FROM outbox WHERE state = 'queued' AND next_at <= ? ORDER BY next_at LIMIT ?`)
      .all(now, limit) as OutboxDb[];
    return rows.map(toRow);
  }

  nextDueAt(): number | undefined {
    const r = this.db.prepare(`SELECT MIN(next_at) AS t FROM outbox WHERE state = 'queued'`).get() as { t: number | null };
    return r.t ?? undefined;
  }

  outbox(id: string): OutboxRow | undefined {
    const r = this.db.prepare('SELECT * FROM outbox WHERE id = ?').get(id) as OutboxDb | undefined;
    return r && toRow(r);
  }

  queueDepth(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE state = 'queued'`).get() as { n: number }).n;
  }

  markDelivered(id: string): void {
    this.db.prepare(`UPDATE outbox SET state = 'delivered', updated = ?, last_error = NULL WHERE id = ? AND state = 'queued'`).run(Date.now(), id);
  }

  markRetry(id: string, nextAt: number, error: string): void {
    this.db
      .prepare(`UPDATE outbox SET attempts = attempts + 1, next_at = ?, updated = ?, last_error = ? WHERE id = ? AND state = 'queued'`)
      .run(nextAt, Date.now(), error.slice(0, 500), id);
  }

  markFailed(id: string, error: string): void {
    this.db
      .prepare(`UPDATE outbox SET state = 'failed', attempts = attempts + 1, updated = ?, last_error = ? WHERE id = ? AND state = 'queued'`)
      .run(Date.now(), error.slice(0, 500), id);
  }
}

function toRow(r: OutboxDb): OutboxRow {
  return {
    id: r.id,
    state: r.state,
    mailFrom: r.mail_from,
    rcpt: JSON.parse(r.rcpt) as string[],
    file: r.file,
    size: r.size,
    attempts: r.attempts,
    nextAt: r.next_at,
    created: r.created,
    lastError: r.last_error,
  };
}
