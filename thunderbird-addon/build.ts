// Builds the add-on's two flavours with esbuild into XPI files (zip, via fflate):
//   dist/sealcode-purchaser.xpi            the purchaser's add-on (card via native host)
//   dist/sealcode-dedicated-template.xpi   the template the distributor stamps per redemption
// `buildXpi({ test: true })` adds a test driver (tests/addon only; never shipped).
// Run: `npm run build:addon` (tsx thunderbird-addon/build.ts [OUT_DIR]).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { zipSync, strToU8, type Zippable } from 'fflate';
import { manifestFor, type Flavour } from './manifest.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BuildOptions {
  flavour: Flavour;
  test?: boolean;
  updateUrl?: string;
  /** Extra files placed in the XPI as-is (tests: a driver plan). */
  extra?: Record<string, Uint8Array>;
  /**
   * Test builds only: the status list's refresh period in minutes, so a test can watch the
   * timer fire. Shipped builds always refresh hourly: there is no setting to change that.
   */
  statusRefreshMinutes?: number;
}

const HOURLY = 60;

const STATIC = ['_locales/en/messages.json', 'icons/sealcode.svg', 'content/banner.css', 'content/game-pane.css', 'pages/options.html', 'pages/first-start.html', 'pages/popup.html', 'pages/page.css'];

async function bundle(entry: string, flavour: Flavour, test: boolean, statusMinutes = HOURLY): Promise<Uint8Array> {
  const r = await esbuild.build({
    entryPoints: [path.join(here, entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['firefox128'],
    define: { __FLAVOUR__: JSON.stringify(flavour), __TEST__: String(test), __STATUS_MINUTES__: String(statusMinutes) },
    legalComments: 'none',
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.contents;
}

export async function buildXpi(o: BuildOptions): Promise<Uint8Array> {
  const test = o.test ?? false;
  if (o.statusRefreshMinutes !== undefined && !test) throw new Error('statusRefreshMinutes is for test builds only');
  const minutes = o.statusRefreshMinutes ?? HOURLY;
  if (!(minutes > 0)) throw new Error(`statusRefreshMinutes must be positive: ${minutes}`);
  const [bg, banner, options, popup, firstStart] = await Promise.all([
    bundle(test ? 'background/test-main.ts' : 'background/main.ts', o.flavour, test, minutes),
    bundle('content/banner.ts', o.flavour, test),
    bundle('pages/options.ts', o.flavour, test),
    bundle('pages/popup.ts', o.flavour, test),
    bundle('pages/first-start.ts', o.flavour, test),
  ]);
  const files: Zippable = {
    'manifest.json': strToU8(JSON.stringify(manifestFor({ flavour: o.flavour, test, updateUrl: o.updateUrl }), null, 2)),
    'background.js': bg,
    'content/banner.js': banner,
    'pages/options.js': options,
    'pages/popup.js': popup,
    'pages/first-start.js': firstStart,
    'content/game-pane.js': await bundle('content/game-pane.ts', o.flavour, test),
  };
  for (const f of STATIC) files[f] = new Uint8Array(fs.readFileSync(path.join(here, f)));
  for (const [k, v] of Object.entries(o.extra ?? {})) files[k] = v;
  // A fixed date keeps builds reproducible.
  return zipSync(files, { level: 6, mtime: new Date('2024-01-01T00:00:00Z') });
}

export const XPI_NAMES: Record<Flavour, string> = {
  purchaser: 'sealcode-purchaser.xpi',
  dedicated: 'sealcode-dedicated-template.xpi',
};

export async function buildAll(outDir: string, updateUrl = process.env.SEALCODE_UPDATE_URL): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const out: string[] = [];
  for (const flavour of ['purchaser', 'dedicated'] as const) {
    const file = path.join(outDir, XPI_NAMES[flavour]);
    fs.writeFileSync(file, await buildXpi({ flavour, updateUrl: flavour === 'purchaser' ? updateUrl : undefined }));
    out.push(file);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const outDir = process.argv[2] ?? path.join(here, '..', 'dist');
  buildAll(outDir).then(
    (files) => console.log(files.map((f) => `built ${path.relative(process.cwd(), f)} (${fs.statSync(f).size} bytes)`).join('\n')),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
