// The gateway in its own process (`sealcode gateway --config`: from the TypeScript
// sources with tsx in tests, so no build is needed; the built one for the bench), for
// what only a separate process shows: its resident memory, and whether its event loop
// answers /healthz while it works.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { getFreePort, waitForPort } from '../../support/ports.js';

const root = path.resolve(import.meta.dirname, '../../..');

export interface ChildGateway {
  proc: ChildProcess;
  output: string[];
  /** kB, from /proc: VmRSS now and VmHWM (peak since start or the last resetPeak) */
  memory(): { rssKb: number; peakKb: number };
  resetPeak(): void;
  stop(): Promise<void>;
}

export async function startChildGateway(configFile: string, ports: number[], env: NodeJS.ProcessEnv = {}, o: { built?: boolean } = {}): Promise<ChildGateway> {
  const entry = o.built ? [path.join(root, 'bin/sealcode.js')] : ['--import', 'tsx', path.join(root, 'cli/main.ts')];
  const proc = spawn(process.execPath, [...entry, 'gateway', '--config', configFile], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  try {
    for (const p of ports) await waitForPort(p, '127.0.0.1', 30_000);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`gateway did not start: ${(e as Error).message}\n${output.join('')}`);
  }
  const status = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]);
  return {
    proc,
    output,
    memory: () => ({ rssKb: status('VmRSS'), peakKb: status('VmHWM') }),
    // Linux: writing 5 to clear_refs resets the peak resident set size to the current one.
    resetPeak: () => fs.writeFileSync(`/proc/${proc.pid}/clear_refs`, '5'),
    async stop() {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Writes the config of a submission-only gateway (user bob/pw, `@partner.test` mapped to `serial`) and starts it. */
export async function startSubmissionGateway(o: {
  dir: string;
  name: string;
  issuerPubB64: string;
  serial: string;
  cardFile: string;
  cardPass: string;
  upstreamPort: number;
  smtp?: Record<string, unknown>;
  built?: boolean;
}): Promise<{ child: ChildGateway; smtpPort: number; adminPort: number; dataDir: string }> {
  const smtpPort = await getFreePort();
  const adminPort = await getFreePort();
  const dataDir = path.join(o.dir, o.name);
  const file = path.join(o.dir, `${o.name}.json`);
  const config = {
    issuerPublicKey: o.issuerPubB64,
    dataDir,
    log: { level: 'warn' },
    admin: { port: adminPort },
    smtp: {
      listen: { host: '127.0.0.1', port: smtpPort },
      users: [{ user: 'bob', password: 'pw' }],
      upstream: { host: '127.0.0.1', port: o.upstreamPort },
      card: { file: o.cardFile, passphrase: { env: 'GW_CHILD_CARD_PASS' } },
      mappings: [{ match: '@partner.test', label: o.serial }],
      ...o.smtp,
    },
  };
  fs.writeFileSync(file, JSON.stringify(config));
  const child = await startChildGateway(file, [smtpPort, adminPort], { GW_CHILD_CARD_PASS: o.cardPass }, { built: o.built });
  return { child, smtpPort, adminPort, dataDir };
}

/** A submission client as a mail program is one: STARTTLS, AUTH. */
export function submitter(port: number, user: string, pass: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    auth: { user, pass },
    tls: { rejectUnauthorized: false },
    socketTimeout: 300_000,
  });
}

/** Polls a URL until stopped; each answer's latency in ms (Infinity for none or not 200). */
export function pollHealth(url: string, everyMs = 50): { stop(): Promise<number[]> } {
  const lat: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await r.text();
        lat.push(r.status === 200 ? performance.now() - t0 : Infinity);
      } catch {
        lat.push(Infinity);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return lat;
    },
  };
}

/** A message with one attachment of `bytes` random bytes, written to `file` in base64 lines. */
export function writeBigMessage(file: string, bytes: number, to: string): void {
  const fd = fs.openSync(file, 'w');
  const head =
    `From: bob@example.test\r\nTo: ${to}\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big-b"\r\n\r\n` +
    '--big-b\r\nContent-Type: text/plain\r\n\r\nA large file.\r\n--big-b\r\nContent-Type: application/octet-stream; name="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  fs.writeSync(fd, head);
  const step = 57 * 16384;
  for (let done = 0; done < bytes; done += step) {
    const chunk = Buffer.from(Buffer.alloc(Math.min(step, bytes - done), done & 0xff).map((v, i) => (v + i * 31) & 0xff));
    const b64 = chunk.toString('base64').replace(/.{76}/g, '$&\r\n');
    fs.writeSync(fd, b64.endsWith('\n') ? b64 : b64 + '\r\n');
  }
  fs.writeSync(fd, '--big-b--\r\n');
  fs.closeSync(fd);
}

/** A message with `n` small attachments, as a client that attached a folder would write it. */
export function writeManyPartMessage(file: string, n: number, to: string): void {
  const parts = [`From: bob@example.test\r\nTo: ${to}\r\nSubject: many parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="many-b"\r\n\r\n--many-b\r\nContent-Type: text/plain\r\n\r\n${n} files.\r\n`];
  for (let i = 0; i < n; i++)
    parts.push(`--many-b\r\nContent-Type: application/octet-stream; name="file-${i}.dat"\r\nContent-Disposition: attachment; filename="file-${i}.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(`contents of file ${i}`).toString('base64')}\r\n`);
  parts.push('--many-b--\r\n');
  fs.writeFileSync(file, parts.join(''));
}

/** A one-part message of `bytes` (998-byte lines), generated as it is sent: the sender does not hold it either. */
export function hugeMessage(bytes: number): Readable {
  const line = Buffer.from('x'.repeat(998) + '\r\n');
  let sent = -1;
  return new Readable({
    read() {
      if (sent < 0) {
        this.push('From: bob@example.test\r\nTo: dana@partner.test\r\nSubject: huge\r\nContent-Type: application/octet-stream; name="huge.bin"\r\n\r\n');
        sent = 0;
      }
      for (let i = 0; i < 64 && sent < bytes; i++, sent += line.length) this.push(line);
      if (sent >= bytes) this.push(null);
    },
  });
}
