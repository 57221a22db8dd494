/**
 * A tiny HTTP server on 127.0.0.1 that a test add-on reports to.
 *
 * The add-on POSTs JSON with `content-type: text/plain` (a "simple" request: no CORS
 * preflight) to `${server.url}/anything`; every POST is kept in `reports`. GET requests
 * answer with what the test set via `reply(path, value)` (404 otherwise), so a test can also
 * hand instructions to a polling add-on.
 *
 *   const rs = await startReportServer();
 *   // bake rs.url into the add-on
 *   const r = await rs.waitFor((b) => b.type === 'inbox', 30_000);
 *   await rs.stop();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Report {
  path: string;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body: any;
  receivedAt: Date;
}

export interface ReportServer {
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  readonly reports: Report[];
  /**
   * Resolves with the body of the first report (already received or future) for which
   * `predicate(body, report)` is true; rejects after `timeoutMs` listing what did arrive.
   */
  waitFor<T = any>(
    predicate: (body: any, report: Report) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
  /** Make GET `path` answer `value` as JSON (undefined: 404 again). */
  reply(path: string, value: unknown): void;
  clear(): void;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': '*',
};

export async function startReportServer(opts: { port?: number } = {}): Promise<ReportServer> {
  const reports: Report[] = [];
  const replies = new Map<string, unknown>();
  const waiters = new Set<() => void>();

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', `http://${HOST}`).pathname;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    if (req.method === 'GET') {
      if (!replies.has(path)) {
        res.writeHead(404, CORS);
        res.end();
        return;
      }
      res.writeHead(200, { ...CORS, 'content-type': 'application/json' });
      res.end(JSON.stringify(replies.get(path)));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep text */
      }
      reports.push({ path, body, receivedAt: new Date() });
      res.writeHead(200, { ...CORS, 'content-type': 'text/plain' });
      res.end('ok');
      for (const w of [...waiters]) w();
    });
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: HOST,
    port,
    url: `http://${HOST}:${port}`,
    reports,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          if (seen > reports.length) seen = 0; // clear() was called
          for (; seen < reports.length; seen++) {
            const r = reports[seen]!;
            let hit = false;
            try {
              hit = predicate(r.body, r);
            } catch {
              hit = false;
            }
            if (hit) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(r.body);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const got = reports.map((r) => `${r.path} ${JSON.stringify(r.body)}`.slice(0, 300)).join('\n  ');
          reject(new Error(`report server: no matching report after ${timeoutMs} ms; got ${reports.length}:\n  ${got}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    reply(path, value) {
      if (value === undefined) replies.delete(path);
      else replies.set(path, value);
    },
    clear() {
      reports.length = 0;
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
