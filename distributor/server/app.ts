// The distributor's Express app over one seller database. Several processes may serve
// one database (a SQLite file, or PostgreSQL across hosts): every state change is one
// transaction, and the cookie key and console sessions are shared through the database.
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { DEFAULT_RESUME_WINDOW_MS } from '../seller/redemption.js';
import { loadRules, type PaybackRules } from '../seller/payback.js';
import type { Seller } from '../seller/seller.js';
import { assetRoutes } from './assets.js';
import { describeError, type Ctx, type Limits } from './context.js';
import { httpLogger, makeLogger } from './logging.js';
import { apiRoutes } from './routes/api.js';
import { consoleRoutes } from './routes/console.js';
import { downloadRoutes } from './routes/download.js';
import { redeemRoutes } from './routes/redeem.js';
import { confirmRoutes } from './routes/confirm.js';
import { createMailer } from './mailer.js';
import { serverKey } from './secrets.js';
import { RateLimiter, security, type Limit } from './security.js';
import { LATEST_VERSION } from '../db/migrations.js';
import { errorPage } from './views/redeem.js';
import { loadTemplate, type XpiTemplate } from './xpi.js';

const PAGE_TITLES: Record<number, string> = { 404: 'Page not found', 413: 'Request too large', 429: 'Too many requests', 500: 'Something went wrong' };

export interface LimitSettings {
  redeemPerClient: Limit;
  redeemPerSerial: Limit;
  downloadPerClient: Limit;
  apiPerClient: Limit;
  apiPerSubject: Limit;
  challengePerClient: Limit;
  loginPerClient: Limit;
}

const MINUTE = 60_000;
export const DEFAULT_LIMITS: LimitSettings = {
  redeemPerClient: { windowMs: MINUTE, max: 30 },
  redeemPerSerial: { windowMs: MINUTE, max: 10 },
  downloadPerClient: { windowMs: MINUTE, max: 60 },
  apiPerClient: { windowMs: MINUTE, max: 120 },
  apiPerSubject: { windowMs: MINUTE, max: 30 },
  challengePerClient: { windowMs: MINUTE, max: 30 },
  loginPerClient: { windowMs: MINUTE, max: 10 },
};

export const DEFAULT_MAIL_FROM = 'sealcode <sealcode@localhost>';

export interface AppOptions {
  /** The console password; without one the console refuses every login. */
  consolePassword?: string;
  /** The prepared dedicated template; loaded from dist/ (or a placeholder) when absent. */
  template?: XpiTemplate;
  rules?: PaybackRules;
  logger?: Logger | false;
  resumeWindowMs?: number;
  limits?: Partial<LimitSettings>;
  /** Written into profiles so that builds know where to fetch the status list. */
  publicUrl?: string;
  /** Serve this folder's files under /static/ (docs, images; the bench's baseline). */
  staticDir?: string;
  /** The SMTP relay for confirmation mail (smtp://HOST:PORT); without it no email is confirmed. */
  smtpUrl?: string;
  /** The sender of that mail. */
  mailFrom?: string;
  /** Trust X-Forwarded-For from a reverse proxy on these hops (Express 'trust proxy'). */
  trustProxy?: boolean | number | string;
}

export interface DistributorApp {
  app: Express;
  ctx: Ctx;
}

export async function createApp(sellerIn: Seller, opts: AppOptions = {}): Promise<DistributorApp> {
  // Opening and checking the issuer key costs more than the rest of a grant; a serving
  // process keeps it once opened (it lives in this process's memory either way).
  let issuer: Uint8Array | undefined;
  // Group keys never change once made (groups are only ever inserted): a grant need not
  // read and unseal its group's key again.
  const groupKeys = new Map<string, Uint8Array>();
  const seller: Seller = {
    ...sellerIn,
    issuerSecret: () => (issuer ??= sellerIn.issuerSecret()),
    async groupKey(groupId) {
      let k = groupKeys.get(groupId);
      if (!k) {
        k = await sellerIn.groupKey(groupId);
        if (groupKeys.size >= 10_000) groupKeys.clear();
        groupKeys.set(groupId, k);
      }
      return k;
    },
  };
  const log = opts.logger === false ? makeLogger(undefined, 'silent') : (opts.logger ?? makeLogger());
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const refuse = (req: Request, res: Response, status: number, message: string) => {
    const code = status === 404 ? 'NOT_FOUND' : status === 429 ? 'RATE_LIMITED' : status === 403 ? 'REFUSED' : status < 500 ? 'USAGE' : 'ERROR';
    if (req.path.startsWith('/api/')) return res.status(status).json({ error: { code, message } });
    res.status(status).type('html').send(errorPage(PAGE_TITLES[status] ?? 'Request refused', message).s);
  };
  const ctx: Ctx = {
    seller,
    rules: opts.rules ?? loadRules(seller.dataDir),
    template: opts.template ?? loadTemplate(),
    sec: security({
      db: seller.db,
      key: await serverKey(seller, 'cookie'),
      consolePassword: opts.consolePassword,
      httpsPublic: opts.publicUrl?.startsWith('https:') ?? false,
      onRefused: refuse,
    }),
    limits: Object.fromEntries(Object.entries(limits).map(([k, v]) => [k, new RateLimiter(v)])) as unknown as Limits,
    log,
    resumeWindowMs: opts.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS,
    publicUrl: opts.publicUrl,
    mailer: opts.smtpUrl ? createMailer(opts.smtpUrl, opts.mailFrom ?? DEFAULT_MAIL_FROM) : undefined,
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy ?? false);
  app.use(httpLogger(log));
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null, 'form-action': ["'self'"], 'script-src': ["'self'"], 'style-src': ["'self'"] } },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  // A load balancer takes a process out when its database does not answer (503).
  app.get('/healthz', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const db = seller.db;
    const reachable = await db.ping();
    const schemaVersion = reachable ? await db.schemaVersion().catch(() => null) : null;
    const ok = reachable && schemaVersion === LATEST_VERSION;
    res.status(ok ? 200 : 503).json({ ok, db: { kind: db.kind, reachable, schemaVersion, expectedSchemaVersion: LATEST_VERSION } });
  });
  app.use(assetRoutes());
  if (opts.staticDir)
    app.use(
      '/static',
      (_req, res, next) => {
        res.locals.logRoute = '/static/*'; // a middleware, not a route: named for the log here
        next();
      },
      express.static(opts.staticDir, { index: false, dotfiles: 'deny' }),
    );
  app.use(redeemRoutes(ctx));
  app.use(confirmRoutes(ctx));
  app.use(downloadRoutes(ctx));
  app.use(apiRoutes(ctx));
  app.use(await consoleRoutes(ctx));
  app.use((req, res) => refuse(req, res, 404, 'There is no page at this address. Check the link, or start again from the code page.'));
  // Body parser errors (too large, bad JSON) and anything unexpected end here.
  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : describeError(err).status;
    if (status >= 500) log.error({ err }, 'request failed');
    const message = status === 413 ? 'The request is too large.' : status < 500 ? 'The request could not be understood.' : describeError(err).message;
    if (res.headersSent) return res.end();
    refuse(req, res, status, message);
  });
  return { app, ctx };
}
