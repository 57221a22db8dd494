// The submission listener for local clients without the add-on: AUTH required,
// STARTTLS with the configured certificate (or one generated into the data folder),
// plaintext only on loopback and only when the config allows it. Attachments for
// mapped recipients are sealed with the configured card, then the message is queued
// durably and only then acknowledged.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { cardParty, cardSecretsOf, equalBytes, openCardFile, type Party, type RecipientSpec } from '../../card/index.js';
import type { SmtpConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { GatewayState } from '../state.js';
import { Outbox } from './queue.js';
import { sealAttachments } from './seal-message.js';

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

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export async function startSmtp(cfg: SmtpConfig, deps: Deps): Promise<SmtpGateway> {
  const { log, metrics, state } = deps;
  let card: Party;
  let describe: string;
  try {
    const data = await openCardFile(fs.readFileSync(cfg.card.file, 'utf8'), cfg.card.passphrase);
    card = cardParty(cardSecretsOf(data));
    describe = `card ${data.cardId}`;
  } catch (e) {
    throw new Error(`smtp.card: cannot open the card file ${cfg.card.file}: ${(e as Error).message}`);
  }
  const tls = cfg.tls.cert ? { key: fs.readFileSync(cfg.tls.key!), cert: fs.readFileSync(cfg.tls.cert) } : generatedCertificate(deps.dataDir);
  const users = cfg.users.map((u) => ({ user: u.user, hash: digest(u.password) }));
  const outbox = new Outbox(cfg, state, log, metrics, deps.dataDir);

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
    onAuth(auth, _session, cb) {
      const pw = digest(auth.password ?? '');
      // Compare against every user so timing does not tell which names exist.
      let ok = false;
      for (const u of users) if (equalBytes(pw, u.hash) && u.user === auth.username) ok = true;
      if (!ok) {
        log.warn({ user: auth.username }, 'smtp authentication failed');
        cb(new Error('Invalid username or password'));
        return;
      }
      cb(null, { user: auth.username });
    },
    onMailFrom(_addr, session, cb) {
      if (!session.secure && !cfg.allowPlaintextOnLoopback) {
        cb(Object.assign(new Error('Must issue a STARTTLS command first'), { responseCode: 530 }));
        return;
      }
      cb();
    },
    onData(stream, session: SMTPServerSession, cb) {
      void (async () => {
        const raw = await readAll(stream);
        if (stream.sizeExceeded) {
          cb(Object.assign(new Error('Message exceeds the size limit'), { responseCode: 552 }));
          return;
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const rcpt = session.envelope.rcptTo.map((r) => r.address);
        const specs = recipientsFor(cfg, rcpt);
        let out = raw;
        if (specs.length) {
          const r = await sealAttachments(raw, { sender: card, recipients: specs, describe });
          out = r.raw;
          metrics.smtpSealed({}, r.sealed.length);
          log.info({ from, to: rcpt, sealed: r.sealed.length, for: specs.map((s) => `${s.kind} ${s.label}`) }, 'attachments sealed');
        }
        const id = await outbox.enqueue(from, rcpt, out);
        metrics.smtpAccepted();
        log.info({ id, from, to: rcpt, size: out.length, user: session.user }, 'queued');
        cb(null, `Queued as ${id}`);
        outbox.kick();
      })().catch((e: Error) => {
        log.error({ err: e.message }, 'submission not accepted');
        cb(Object.assign(new Error('Temporary failure, message not accepted'), { responseCode: 451 }));
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
    },
  };
  return g;
}
