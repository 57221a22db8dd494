// Request logs that cannot leak: a request line keeps method, the route it matched,
// status and timing only — no headers (cookies), no bodies (codes, passphrases), and no
// path: the route's pattern (/download/:token) stands for it, so a token is never
// written whatever case or spelling the request used. A request that matched no route
// is logged without its path.
import type { Request, RequestHandler } from 'express';
import { pino, type Logger } from 'pino';

export const UNMATCHED = '[no route]';

/** The pattern of the route that handled `req`, once it has run. */
export const routeOf = (req: Request): string =>
  req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : ((req.res?.locals.logRoute as string | undefined) ?? UNMATCHED);

export function makeLogger(dest?: NodeJS.WritableStream, level = process.env.SEALCODE_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { svc: 'distributor' },
      // Belt and braces: should anything log these paths, they are censored.
      redact: { paths: ['req.headers', 'res.headers', 'body', '*.code', '*.token', '*.passphrase', '*.password', '*.cookie'], censor: '[redacted]' },
    },
    dest as any,
  );
}

// One line per finished request, built only when its level is enabled. pino-http made a
// child logger and ran its serializers for every request whatever the level: ~5% of the
// server's CPU under bench/distributor.
export function httpLogger(logger: Logger): RequestHandler {
  let seq = 0;
  return (req, res, next) => {
    const id = ++seq;
    const start = performance.now();
    const done = (aborted: boolean) => {
      const level = res.statusCode >= 500 ? 'error' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        { req: { id, method: req.method, route: routeOf(req) }, res: { status: res.statusCode }, responseTime: Math.round(performance.now() - start) },
        aborted ? 'request aborted' : 'request completed',
      );
    };
    res.once('close', () => done(!res.writableFinished));
    next();
  };
}
