// Request logs that cannot leak: the serializers keep method, a redacted path, status
// and timing only — no headers (cookies), no bodies (codes, passphrases), and the
// download token in /download/TOKEN is replaced.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';

export const redactPath = (url: string | undefined): string =>
  (url ?? '').split('?')[0]!.replace(/^\/download\/[^/]*/, '/download/[token]');

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

export function httpLogger(logger: Logger) {
  return pinoHttp({
    logger,
    quietReqLogger: true,
    serializers: {
      req: (req: IncomingMessage & { id?: unknown }) => ({ id: req.id, method: req.method, path: redactPath(req.url) }),
      res: (res: ServerResponse) => ({ status: res.statusCode }),
      err: (err: Error & { code?: string }) => ({ type: err.name, code: err.code }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });
}
