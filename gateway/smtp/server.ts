// The submission listener for local clients without the add-on: AUTH required,
// STARTTLS with the configured certificate (or one generated into the data folder),
// plaintext only on loopback and only when the config allows it. Attachments for
// mapped recipients are sealed with the configured card, then the message is queued
// durably and only then acknowledged.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { cardSecretsOf, equalBytes, openCardFile, type CardSecrets, type RecipientSpec } from '../../card/index.js';
import type { SmtpConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayState } from '../state.js';
import { Outbox } from './queue.js';
import { AuthGuard } from './auth-guard.js';
import { SealPool } from './seal-pool.js';
import type { SealOutcome } from './seal-worker.js';
import { Spool } from './spool.js';

type SessionWithCommands = SMTPServerSession & { disabledCommands?: string[] };

export interface SmtpGateway {
  port: number;
  listening: boolean;
  outbox: Outbox;
  stop(): Promise<void>;
}

interface Deps {
  state: GatewayState;
  log: Logger;
  metrics: GatewayMetrics;
  dataDir: string;
}

/** A self-signed certificate in the data folder, made once with openssl. */
function generatedCertificate(dataDir: string): { key: Buffer; cert: Buffer } {
  const dir = path.join(dataDir, 'tls');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  if (!fs.existsSync(keyFile) || !fs.existsSync(certFile)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
        '-subj', `/CN=${os.hostname()}`, '-keyout', keyFile, '-out', certFile],
      { stdio: 'ignore' },
    );
    fs.chmodSync(keyFile, 0o600);
  }
  return { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) };
}

const digest = (s: string): Uint8Array => crypto.createHash('sha256').update(s, 'utf8').digest();

export function recipientsFor(cfg: SmtpConfig, rcpt: string[]): RecipientSpec[] {
  const out = new Map<string, RecipientSpec>();
  for (const r of rcpt) {
    const addr = r.toLowerCase();
    const domain = '@' + addr.split('@').pop();
    const m = cfg.mappings.find((x) => x.match === addr) ?? cfg.mappings.find((x) => x.match === domain);
    if (m) out.set(`${m.kind}:${m.label}`, { kind: m.kind, label: m.label });
  }
  return [...out.values()];
}

/** Messages (by content digest) that ended a seal worker, most recent last; bounded. */
class CrashCount {
  private readonly seen = new Map<string, number>();
  constructor(private readonly max: number) {}
  add(digest: string): number {
    const n = (this.seen.get(digest) ?? 0) + 1;
    this.seen.delete(digest);
    this.seen.set(digest, n);
    if (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
    return n;
  }
}
const CRASH_MEMORY = 1000;

const smtpError = (code: number, message: string): Error => Object.assign(new Error(message), { responseCode: code });

export async function startSmtp(cfg: SmtpConfig, deps: Deps): Promise<SmtpGateway> {
  const { log, metrics, state } = deps;
  let secrets: CardSecrets;
  let describe: string;
  try {
    const data = await openCardFile(fs.readFileSync(cfg.card.file, 'utf8'), cfg.card.passphrase);
    secrets = cardSecretsOf(data);
    describe = `card ${data.cardId}`;
  } catch (e) {
    throw new Error(`smtp.card: cannot open the card file ${cfg.card.file}: ${(e as Error).message}`);
  }
  const tls = cfg.tls.cert ? { key: fs.readFileSync(cfg.tls.key!), cert: fs.readFileSync(cfg.tls.cert) } : generatedCertificate(deps.dataDir);
  const users = cfg.users.map((u) => ({ user: u.user, hash: digest(u.password) }));
  const outbox = new Outbox(cfg, state, log, metrics, deps.dataDir);
  const spool = new Spool(path.join(deps.dataDir, 'spool'));
  spool.clear();
  const pool = new SealPool(secrets, log, cfg.sealThreads, cfg.sealWorkerHeapMb);
  const crashes = new CrashCount(CRASH_MEMORY);
  const guard = new AuthGuard(cfg.auth, log);
  const triesOf = new Map<string, number>();
  // Without plaintext allowed, AUTH is not even offered until STARTTLS: a client that
  // only sends what is advertised never puts its password on the wire in clear.
  const hideAuth = !cfg.allowPlaintextOnLoopback;

  const server = new SMTPServer({
    ...tls,
    secure: false,
    name: os.hostname(),
    banner: 'sealcode gateway',
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    allowInsecureAuth: cfg.allowPlaintextOnLoopback,
    size: cfg.maxMessageBytes,
    logger: false,
    onConnect(session, cb) {
      if (hideAuth) (session as SessionWithCommands).disabledCommands = ['AUTH'];
      cb();
    },
    onSecure(_socket, session, cb) {
      (session as SessionWithCommands).disabledCommands = [];
      cb();
    },
    onClose(session) {
      triesOf.delete(session.id);
    },
    onAuth(auth, session, cb) {
      void (async () => {
        const address = session.remoteAddress;
        const user = auth.username ?? '';
        const locked = await guard.lockedFor(address, user);
        if (locked) {
          metrics.smtpAuthFailures({ result: 'locked' });
          cb(smtpError(421, `Too many failed logins, try again in ${Math.ceil(locked / 1000)} s`));
          return;
        }
        const pw = digest(auth.password ?? '');
        // Compare against every user so timing does not tell which names exist.
        let ok = false;
        for (const u of users) if (equalBytes(pw, u.hash) && u.user === auth.username) ok = true;
        if (ok) {
          await guard.succeeded(user);
          cb(null, { user: auth.username });
          return;
        }
        metrics.smtpAuthFailures({ result: 'wrong' });
        const tries = (triesOf.get(session.id) ?? 0) + 1;
        triesOf.set(session.id, tries);
        const { lockedOut } = await guard.failed(address, user);
        // 421 makes smtp-server close the connection after the reply.
        if (lockedOut || tries >= cfg.auth.maxTriesPerConnection) cb(smtpError(421, 'Invalid username or password; too many failed logins, closing'));
        else cb(smtpError(535, 'Invalid username or password'));
      })().catch((e: Error) => {
        log.error({ err: e.message }, 'smtp authentication check failed');
        cb(smtpError(454, 'Temporary authentication failure'));
      });
    },
    onMailFrom(_addr, session, cb) {
      if (!session.secure && !cfg.allowPlaintextOnLoopback) {
        cb(smtpError(530, 'Must issue a STARTTLS command first'));
        return;
      }
      cb();
    },
    onRcptTo(_addr, session, cb) {
      if (session.envelope.rcptTo.length >= cfg.maxRecipients) {
        cb(smtpError(452, `Too many recipients (at most ${cfg.maxRecipients} per message)`));
        return;
      }
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      void (async () => {
        const received = await spool.receive(stream, cfg.maxMessageBytes);
        if (!received.file || stream.sizeExceeded) {
          metrics.smtpRefused({ reason: 'size' });
          log.warn({ user: session.user, size: received.size, limit: cfg.maxMessageBytes }, 'message over the size limit refused');
          cb(smtpError(552, `Message exceeds the size limit of ${cfg.maxMessageBytes} bytes`));
          return;
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const rcpt = session.envelope.rcptTo.map((r) => r.address);
        const specs = recipientsFor(cfg, rcpt);
        const { id, tmp } = outbox.reserve();
        let outcome: SealOutcome;
        let crashedOn: string | undefined;
        try {
          outcome = await pool.run({
            inFile: received.file,
            outFile: tmp,
            tmpDir: spool.dir,
            limits: { maxParts: cfg.maxParts, maxDepth: cfg.maxDepth },
            seal: specs.length ? { recipients: specs, describe } : undefined,
          });
          if (!outcome.ok && outcome.crashed) crashedOn = await spool.digestOf(received.file);
        } finally {
          await fsp.rm(received.file, { force: true });
        }
        if (!outcome.ok) {
          await fsp.rm(tmp, { force: true });
          if (outcome.refusal) {
            metrics.smtpRefused({ reason: 'content' });
            log.warn({ user: session.user, to: rcpt, reason: outcome.refusal.message }, 'message refused');
            cb(smtpError(outcome.refusal.code, `${outcome.refusal.message}; nothing was relayed`));
          } else if (crashedOn) {
            // A client retries a 451 with the same message: one that ends the worker every
            // time would be retried for ever, so after a few it is refused for good.
            const n = crashes.add(crashedOn);
            const final = n >= cfg.workerCrashesToRefuse;
            log.error({ user: session.user, to: rcpt, size: received.size, err: outcome.error, crashes: n, refused: final }, 'the seal worker stopped on this message');
            if (final) {
              metrics.smtpRefused({ reason: 'crash' });
              cb(smtpError(554, `The message stopped the sealing worker ${n} times (it needs more memory than a message may use); it is refused; nothing was relayed`));
            } else cb(smtpError(451, 'Temporary failure while sealing, message not accepted; try again'));
          } else if (outcome.temporary) throw new Error(outcome.error);
          else {
            metrics.smtpRefused({ reason: 'unreadable' });
            log.error({ user: session.user, to: rcpt, err: outcome.error }, 'message could not be processed; refused');
            cb(smtpError(554, 'The message could not be processed; nothing was relayed'));
          }
          return;
        }
        const r = outcome.result;
        if (specs.length) {
          metrics.smtpSealed({}, r.sealed.length);
          log.info({ id, from, to: rcpt, sealed: r.sealed.length, kept: r.kept, for: specs.map((s) => `${s.kind} ${s.label}`) }, 'non-body parts sealed');
        }
        await outbox.enqueue(id, from, rcpt);
        metrics.smtpAccepted();
        log.info({ id, from, to: rcpt, size: r.bytes, user: session.user }, 'queued');
        cb(null, `Queued as ${id}`);
        outbox.kick();
      })().catch((e: Error) => {
        log.error({ err: e.message }, 'submission not accepted');
        cb(smtpError(451, 'Temporary failure, message not accepted'));
      });
    },
  });
  server.on('error', (e) => log.warn({ err: e.message }, 'smtp server error'));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  outbox.start();
  const g: SmtpGateway = {
    port: (server.server.address() as AddressInfo).port,
    listening: true,
    outbox,
    async stop() {
      g.listening = false;
      await outbox.stop();
      await new Promise<void>((r) => server.close(() => r()));
      await pool.close();
      guard.flush();
    },
  };
  return g;
}
