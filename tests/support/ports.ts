/**
 * Loopback TCP port helpers for integration tests.
 */
import net from 'node:net';

/** A TCP port that is free on `host` right now (the OS picks it; tiny race before use). */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('getFreePort: no port'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/**
 * Opens a TCP connection and lets `watch` decide the answer; a timeout, an error or a
 * close first means false. The socket is always torn down.
 */
export function probeSocket(
  port: number,
  host: string,
  timeoutMs: number,
  watch: (sock: net.Socket, done: (ok: boolean) => void) => void,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
    watch(sock, done);
  });
}

/** Resolves true when something accepts a TCP connection on host:port within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return probeSocket(port, host, timeoutMs, (sock, done) => sock.once('connect', () => done(true)));
}

/** Polls until host:port accepts connections; rejects after `timeoutMs`. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(port, host, 500)) return;
    if (Date.now() > deadline) throw new Error(`waitForPort: nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls until host:port refuses connections; rejects after `timeoutMs`. */
export async function waitForPortClosed(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await canConnect(port, host, 500))) return;
    if (Date.now() > deadline) throw new Error(`waitForPortClosed: ${host}:${port} still accepts after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
