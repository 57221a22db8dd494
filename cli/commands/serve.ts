// `sealcode serve`: the distributor and seller console over one data folder. Initialises
// the folder on first run, so `npm start` needs nothing else.
import type { Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Groups } from '../program.js';
import { action } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { dataDirOf, dataOption, dbOption } from '../data-dir.js';
import { dbUrlOf } from '../../distributor/db/open.js';
import { redactUrl } from '../../distributor/db/store.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { sweepExpiredGrants } from '../../distributor/seller/redemption.js';
import { recordPublicUrl } from '../../distributor/seller/settings.js';
import { createApp, type LimitSettings } from '../../distributor/server/app.js';
import { ensureConsolePassword } from '../../distributor/server/secrets.js';
import { loadTemplate } from '../../distributor/server/xpi.js';
import { makeLogger } from '../../distributor/server/logging.js';
import { SmtpUrl } from '../../distributor/server/mailer.js';

interface ServeOpts {
  data?: string;
  db?: string;
  host: string;
  port: string;
  template?: string;
  resumeWindow: string;
  publicUrl?: string;
  trustProxy?: boolean;
  static?: string;
  smtp?: string;
  mailFrom?: string;
}

/** SEALCODE_LIMITS (JSON, same shape as LimitSettings) tunes the rate limits: load tests raise them. */
function limitsFromEnv(): Partial<LimitSettings> | undefined {
  const raw = process.env.SEALCODE_LIMITS;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as Partial<LimitSettings>;
  } catch {
    throw new CliError('SEALCODE_LIMITS is not JSON', EXIT.usage, 'USAGE');
  }
}

const isWildcard = (a: string): boolean => a === '0.0.0.0' || a === '::';

/** --public-url: an absolute http(s) URL without query or fragment; no trailing slash. */
export function publicUrlOf(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(`--public-url ${raw} is not a URL: give it whole, like https://codes.example.org`, EXIT.usage, 'USAGE');
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password)
    throw new CliError('--public-url must be an http or https URL without query, fragment or credentials', EXIT.usage, 'USAGE');
  return u.href.replace(/\/+$/, '');
}

/** What users reach when no --public-url is given: the address and port served. */
export function defaultPublicUrl(addr: AddressInfo): string {
  const host = isWildcard(addr.address) ? hostname() : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}

export function register(program: Command, _groups: Groups): void {
  dbOption(dataOption(program.command('serve').description('serve the redemption page, downloads, the card API and the seller console')))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '8080')
    .option('--template <xpi>', 'the dedicated add-on template (default: dist/sealcode-dedicated-template.xpi)')
    .option('--resume-window <seconds>', 'how long an interrupted download may be resumed', '900')
    .option('--public-url <url>', 'the URL users reach this server at, written into every card and build (default: http://HOST:PORT)')
    .option('--smtp <url>', 'the SMTP relay for confirmation mail, smtp://[USER:PASSWORD@]HOST:PORT (default: $SEALCODE_SMTP); without it no redeemer email is confirmed, so no invitee pay-back is credited')
    .option('--mail-from <address>', 'the sender of confirmation mail (default: sealcode@ the public URL\'s host)')
    .option('--static <dir>', 'also serve the files of this folder under /static/')
    .option('--trust-proxy', 'take client addresses from X-Forwarded-For (behind a reverse proxy)')
    .action(
      action(async (o: ServeOpts) => {
        const publicUrl = o.publicUrl === undefined ? undefined : publicUrlOf(o.publicUrl);
        const port = Number(o.port);
        const windowS = Number(o.resumeWindow);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port must be 0-65535', EXIT.usage, 'USAGE');
        if (!Number.isFinite(windowS) || windowS < 1) throw new CliError('--resume-window must be a positive number of seconds', EXIT.usage, 'USAGE');
        const smtpUrl = o.smtp ?? process.env.SEALCODE_SMTP;
        if (smtpUrl !== undefined && !SmtpUrl.safeParse(smtpUrl).success) throw new CliError('--smtp must be smtp://[USER:PASSWORD@]HOST:PORT or smtps://…', EXIT.usage, 'USAGE');
        const dir = dataDirOf(o);
        const dbUrl = dbUrlOf(o.db);
        const logger = makeLogger(process.stderr);
        const init = await initSeller(dir, { dbUrl });
        const pw = ensureConsolePassword(dir);
        // A connection the database server drops while idle (a restart) is logged and
        // replaced, never fatal: requests meanwhile fail with 5xx and succeed after.
        const seller = await openSeller(dir, {
          dbUrl,
          onIdleError: (err) => logger.warn({ err: { message: err.message } }, 'database connection lost'),
          // SQLite: the log is copied back into the file off the event loop (db/checkpointer.ts).
          checkpointInBackground: true,
          onCheckpointerStopped: (err) => logger.warn({ err: { message: err?.message ?? 'stopped' } }, 'background checkpoints stopped; commits checkpoint again'),
        });
        const template = loadTemplate(o.template);
        const { app, ctx } = await createApp(seller, {
          consolePassword: pw.password,
          template,
          logger,
          resumeWindowMs: windowS * 1000,
          publicUrl,
          limits: limitsFromEnv(),
          trustProxy: o.trustProxy ? 1 : false,
          staticDir: o.static,
          smtpUrl,
          mailFrom: o.mailFrom ?? (publicUrl ? `sealcode <sealcode@${new URL(publicUrl).hostname}>` : undefined),
        });
        const server = app.listen(port, o.host);
        await new Promise<void>((resolve, reject) => {
          server.once('listening', resolve);
          server.once('error', reject);
        });
        const addr = server.address() as AddressInfo;
        const base = publicUrl ?? defaultPublicUrl(addr);
        // Written into every card and build from now on: hand-over texts and status-list URLs name it.
        ctx.publicUrl = base;
        await recordPublicUrl(seller, base);
        const lines = [
          `sealcode distributor listening on ${base}`,
          `  data folder:      ${dir}${init.created ? ' (new)' : ''}`,
          `  database:         ${dbUrl ? redactUrl(dbUrl) : 'SQLite in the data folder'}`,
          `  dedicated add-on: ${template.source}`,
          `  redemption page:  ${base}/`,
          `  seller console:   ${base}/console`,
          `  status list:      ${base}/api/v1/status`,
          `  confirmation mail: ${smtpUrl ? `through ${new URL(smtpUrl).host}` : 'off (no --smtp): invitee pay-back needs confirmed addresses'}`,
          // On a terminal only: journald and docker keep stdout, and the file is 0600.
          `  console password: in ${pw.path} (mode 0600)${pw.created && process.stdout.isTTY ? `; it is ${pw.password} (shown this once)` : ''}`,
        ];
        if (!publicUrl && isWildcard(addr.address)) lines.push(`  (listening on all addresses: pass --public-url with the address users reach, it goes into every card and build)`);
        // stdout, never the log stream.
        process.stdout.write(lines.join('\n') + '\n');
        const sweep = setInterval(() => {
          sweepExpiredGrants(seller).catch((err) => logger.error({ err }, 'sweep failed'));
        }, 30_000);
        sweep.unref();
        await new Promise<void>((resolve) => {
          const stop = () => {
            clearInterval(sweep);
            // Requests in progress finish (and their transactions commit) before the
            // database is closed; idle keep-alive connections go now, any others in 5 s.
            server.close(() => resolve());
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 5000).unref();
          };
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        ctx.mailer?.close();
        await seller.close();
      }),
    );
}
