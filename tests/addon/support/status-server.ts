// The distributor's status endpoint as an installed add-on sees it: GET /api/v1/status on
// 127.0.0.1 answering an issuer-signed list (card's signStatus, as the distributor signs it),
// which a test can replace, roll back or take offline while Thunderbird runs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignedStatus } from '../../../card/index.js';

export interface StatusServer {
  url: string;
  /** Serve this signed list from now on. */
  serve(signed: SignedStatus): void;
  /** Answer 503, as an unreachable distributor. */
  offline(): void;
  hits: number;
  stop(): Promise<void>;
}

export async function startStatusServer(): Promise<StatusServer> {
  let body: string | null = null;
  const s: Partial<StatusServer> = { hits: 0 };
  const server = http.createServer((req, res) => {
    s.hits!++;
    if (req.url !== '/api/v1/status' || body === null) {
      res.writeHead(req.url === '/api/v1/status' ? 503 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(s, {
    url: `http://127.0.0.1:${port}/redeem`,
    serve: (signed: SignedStatus) => void (body = JSON.stringify(signed)),
    offline: () => void (body = null),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  }) as StatusServer;
}
