/**
 * An SMTP sink on 127.0.0.1: accepts any AUTH (or none), no TLS, and keeps every message.
 *
 *   const sink = await startSmtpSink();
 *   // ... send to sink.host:sink.port ...
 *   const [msg] = await sink.waitFor(1);
 *   const parsed = await sink.parse(msg);   // mailparser ParsedMail
 *   await sink.stop();
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { getFreePort } from './ports.js';

export interface SinkMessage {
  /** The DATA bytes exactly as received. */
  raw: Buffer;
  envelope: { mailFrom: string | null; rcptTo: string[] };
  /** The AUTH username, when the client authenticated. */
  authUser?: string;
  receivedAt: Date;
}

export interface SmtpSinkOptions {
  /** Fixed port; default: a free one. */
  port?: number;
  /** Reject MAIL FROM without prior AUTH (default false: AUTH optional). */
  requireAuth?: boolean;
  /** Answer DATA with this SMTP error (e.g. to test retries); the message is not stored. */
  rejectWith?: { code: number; message: string };
  /** Passed through to smtp-server last (overrides). */
  serverOptions?: Partial<SMTPServerOptions>;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  readonly messages: SinkMessage[];
  /** Resolves with the first `n` messages once at least `n` arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  parse(msg: SinkMessage): Promise<ParsedMail>;
  /** Change the DATA rejection at run time (undefined: accept again). */
  setReject(rejectWith: { code: number; message: string } | undefined): void;
  clear(): void;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const waiters = new Set<() => void>();
  let rejectWith = opts.rejectWith;
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: !opts.requireAuth,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    banner: 'sealcode test sink',
    // Connections still open at stop() are cut after this (smtp-server's default is 30 s).
    closeTimeout: 1000,
    size: 200 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      cb(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => cb(err));
      stream.on('end', () => {
        if (rejectWith) {
          const err = Object.assign(new Error(rejectWith.message), { responseCode: rejectWith.code });
          cb(err);
          return;
        }
        const from = session.envelope.mailFrom;
        messages.push({
          raw: Buffer.concat(chunks),
          envelope: {
            mailFrom: from ? from.address : null,
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
          },
          authUser: typeof session.user === 'string' ? session.user : undefined,
          receivedAt: new Date(),
        });
        cb();
        notify();
      });
    },
    ...opts.serverOptions,
  });
  server.on('error', () => {
    /* client-side socket errors; the sink keeps running */
  });

  const port = opts.port ?? (await getFreePort(HOST));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, HOST, () => {
      server.server.off('error', reject);
      resolve();
    });
  });

  return {
    host: HOST,
    port,
    messages,
    waitFor(n, timeoutMs = 15_000) {
      return new Promise<SinkMessage[]>((resolve, reject) => {
        const check = (): boolean => {
          if (messages.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(messages.slice(0, n));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`smtp sink: ${messages.length} of ${n} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    parse(msg) {
      return simpleParser(msg.raw);
    },
    setReject(r) {
      rejectWith = r;
    },
    clear() {
      messages.length = 0;
    },
    stop() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
