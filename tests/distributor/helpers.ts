// Shared set-up for the distributor tests: a real data folder and a real database (the
// SQLite file, or a database of this file's PostgreSQL server), the real app, a log stream captured for leak checks, and form helpers that behave like a browser.
import { mkdtempSync, rmSync, existsSync, statSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { unzipSync, strFromU8 } from 'fflate';
import request from 'supertest';
import { parseProfile, type DedicatedProfile } from '../../card/index.js';
import { initSeller, openSeller, type Seller } from '../../distributor/seller/seller.js';
import { createApp, type AppOptions } from '../../distributor/server/app.js';
import { defaultTemplatePath, prepareTemplate } from '../../distributor/server/xpi.js';
import { makeLogger } from '../../distributor/server/logging.js';
import { freshDb, type Backend } from '../support/databases.js';

export { BACKENDS, type Backend } from '../support/databases.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const PASSWORD = 'correct horse battery staple';

export interface TestServer {
  dir: string;
  seller: Seller;
  app: Awaited<ReturnType<typeof createApp>>['app'];
  logs: string[];
  dbUrl?: string;
  close(): Promise<void>;
}

/**
 * The real dedicated add-on template from dist/. No placeholder: a test that says it
 * serves "the real dedicated XPI" fails when there is none.
 */
export function builtTemplate(): Uint8Array {
  const p = defaultTemplatePath();
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first (it builds the dedicated add-on template)`);
  return new Uint8Array(readFileSync(p));
}

export interface TestSeller {
  dir: string;
  dbUrl?: string;
  seller: Seller;
  close(): Promise<void>;
}

/** A seller in a new data folder, on a new database of `backend`. */
export async function makeSeller(backend: Backend = 'sqlite'): Promise<TestSeller> {
  const dir = mkdtempSync(join(tmpdir(), 'sealcode-dist-'));
  const dbUrl = await freshDb(backend);
  await initSeller(dir, { dbUrl });
  const seller = await openSeller(dir, { dbUrl });
  return {
    dir,
    dbUrl,
    seller,
    async close() {
      await seller.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function makeServer(opts: AppOptions = {}, backend: Backend = 'sqlite'): Promise<TestServer> {
  const { dir, dbUrl, seller, close } = await makeSeller(backend);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const template = opts.template ?? prepareTemplate(builtTemplate(), defaultTemplatePath());
  const { app } = await createApp(seller, { consolePassword: PASSWORD, logger: makeLogger(sink, 'debug'), ...opts, template });
  return { dir, dbUrl, seller, app, logs, close };
}

export const csrfOf = (html: string): string => {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
};

export const tokenOf = (html: string): string => {
  const m = /href="\/download\/([A-Za-z0-9_-]+)"/.exec(html);
  if (!m) throw new Error('no download link on the page');
  return m[1]!;
};

/** A browser-like agent that has loaded the code page (so it holds the CSRF cookie). */
export async function visitor(app: TestServer['app']) {
  const agent = request.agent(app);
  const page = await agent.get('/').expect(200);
  const csrf = csrfOf(page.text);
  return {
    agent,
    csrf,
    redeem: (code: string, email: string) => agent.post('/redeem').type('form').send({ code, email, _csrf: csrf }),
  };
}

export async function consoleAgent(app: TestServer['app']) {
  const agent = request.agent(app);
  const login = await agent.get('/console/login').expect(200);
  await agent.post('/console/login').type('form').send({ password: PASSWORD, _csrf: csrfOf(login.text) }).expect(303);
  const home = await agent.get('/console').expect(200);
  return { agent, csrf: csrfOf(home.text) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const binaryParser = (res: any, cb: (err: Error | null, body: any) => void): void => {
  const parts: Buffer[] = [];
  res.on('data', (c: Buffer) => parts.push(c));
  res.on('end', () => cb(null, Buffer.concat(parts)));
};

export function profileInXpi(xpi: Uint8Array): DedicatedProfile {
  const files = unzipSync(xpi);
  if (!files['profile.json']) throw new Error('no profile.json in the XPI');
  return parseProfile(JSON.parse(strFromU8(files['profile.json'])));
}

export const state = async (s: Seller, serial: string) => (await s.db.value<string>('SELECT state FROM codes WHERE serial = ?', serial))!;
export const count = async (s: Seller, table: string) => (await s.db.value<number>(`SELECT COUNT(*) FROM ${table}`))!;

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** The tests that start `node bin/sealcode.js` need build/ to match the sources. */
export function ensureBuilt(): void {
  const main = join(ROOT, 'build', 'cli', 'main.js');
  const built = existsSync(main) ? statSync(join(ROOT, 'build', 'distributor', 'server', 'app.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0 : 0;
  const src = Math.max(...['card', 'cli', 'distributor', 'thunderbird-addon'].map((d) => newestMtime(join(ROOT, d))));
  if (built >= src) return;
  // Several test files may get here at once: one compiles, the others wait.
  // tsc still emits when some other area has a type error; that is not ours to fail on.
  try {
    execFileSync('flock', ['/tmp/sealcode-build.lock', 'npx', 'tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    if (!existsSync(main)) throw new Error('the build failed: run `npm run build`');
  }
}

/**
 * The value `read` gives once it equals `want`, or the last one seen after a few seconds.
 * A download is recorded complete when its last byte has left the server ('finish'), so
 * the client may look before that write has reached the database.
 */
export async function settled<T>(read: () => Promise<T>, want: T, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (v === want || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}
