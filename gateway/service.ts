// The gateway process: state, status list, one watcher per (account, folder), the SMTP
// submission relay and the admin endpoint, started and stopped together.
import { pino, type Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { StatusSource } from './certify.js';
import { startAdmin } from './admin.js';
import { FolderWatcher, type WatcherDeps } from './imap/watcher.js';
import { gatewayMetrics, type GatewayMetrics } from './metrics.js';
import { GatewayState } from './state.js';
import { startSmtp, type SmtpGateway } from './smtp/server.js';
import { useNativeEd25519 } from './native-ed25519.js';
import { CertifyPool } from './imap/certify-pool.js';

export interface Gateway {
  state: GatewayState;
  metrics: GatewayMetrics;
  watchers: FolderWatcher[];
  smtp?: SmtpGateway;
  adminPort?: number;
  log: Logger;
  /** All watchers have done their first catch-up (or given up connecting once). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  onSettled?: WatcherDeps['onSettled'];
}

export function makeLogger(level: string): Logger {
  return pino({
    level,
    base: { svc: 'sealcode-gateway' },
    // Belt and braces: these never reach a log call, but a future one must not leak them.
    redact: { paths: ['password', 'pass', 'passphrase', '*.password', '*.pass', '*.passphrase', 'auth'], censor: '[secret]' },
  });
}

export async function startGateway(cfg: GatewayConfig, o: StartOptions = {}): Promise<Gateway> {
  const log = o.logger ?? makeLogger(cfg.log.level);
  useNativeEd25519();
  const state = new GatewayState(cfg.dataDir);
  const metrics = gatewayMetrics();
  const status = cfg.status ? new StatusSource(cfg.status, cfg.issuerPub, log) : undefined;
  await status?.start();

  const pool = cfg.imap.accounts.length ? new CertifyPool(cfg.issuerPub, log, cfg.imap.certifyThreads) : undefined;
  const watchers: FolderWatcher[] = [];
  for (const a of cfg.imap.accounts)
    for (const f of a.folders)
      watchers.push(
        new FolderWatcher(a, f, {
          state,
          log: log.child({ part: 'imap' }),
          metrics,
          issuerPub: cfg.issuerPub,
          status: () => status?.current,
          pool: pool!,
          limits: cfg.imap.limits,
          onSettled: o.onSettled,
        }),
      );

  let smtp: SmtpGateway | undefined;
  let admin: Awaited<ReturnType<typeof startAdmin>> | undefined;
  try {
    if (cfg.smtp) smtp = await startSmtp(cfg.smtp, { state, log: log.child({ part: 'smtp' }), metrics, dataDir: cfg.dataDir });
    metrics.registry.gauge('sealcode_gateway_queue_depth', 'Messages waiting in the SMTP outbox', () => state.queueDepth());
    metrics.registry.gauge('sealcode_gateway_imap_connected', 'Watched folders with a live IMAP connection', () => watchers.filter((w) => w.connected).length);
    if (cfg.admin)
      admin = await startAdmin(cfg.admin.host, cfg.admin.port, metrics.registry, () => {
        const folders = watchers.map((w) => ({ account: w.account.name, folder: w.folder, connected: w.connected }));
        return {
          ok: folders.every((f) => f.connected) && (smtp?.listening ?? true),
          imap: folders,
          smtp: smtp ? { listening: smtp.listening, queueDepth: state.queueDepth() } : undefined,
        };
      });
  } catch (e) {
    await smtp?.stop();
    await pool?.close();
    status?.stop();
    state.close();
    throw e;
  }
  for (const w of watchers) w.start();
  log.info({ folders: watchers.length, smtp: smtp?.port, admin: admin?.port }, 'gateway started');

  let stopped = false;
  return {
    state,
    metrics,
    watchers,
    smtp,
    adminPort: admin?.port,
    log,
    ready: Promise.all(watchers.map((w) => w.ready)).then(() => undefined),
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(watchers.map((w) => w.stop()));
      await smtp?.stop();
      await pool?.close();
      await admin?.close();
      status?.stop();
      state.close();
      log.info('gateway stopped');
    },
  };
}
