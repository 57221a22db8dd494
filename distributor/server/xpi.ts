// Dedicated builds are stamped, never built: the add-on's dedicated template is read
// once at start-up and its files are compressed once into a fixed zip prefix; each
// download appends only the build's manifest.json and profile.json and a central
// directory. The two files are exactly what the add-on's own stampDedicatedXpi writes
// (tests/distributor/xpi.test.ts compares them file by file), made here without its
// per-call zip and unzip, which cost more than the rest of a download.
// The output is a pure function of the profile, so a download resumed with HTTP Range
// (even after a restart) continues the very same bytes.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { unzipSync, strToU8, zipSync } from 'fflate';
import { SealError, parseProfile, profileCerts, type DedicatedProfile } from '../../card/index.js';
import { TEMPLATE_ID, dedicatedId } from '../../thunderbird-addon/manifest.js';
import type { StampOptions } from '../../thunderbird-addon/stamp.js';

export const TEMPLATE_NAME = 'sealcode-dedicated-template.xpi';
const PROFILE = 'profile.json';
const MANIFEST = 'manifest.json';
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01: fixed, so stamping is deterministic
const MAX_NAME = 45; // as thunderbird-addon/stamp.ts

export interface XpiTemplate {
  /** Where the template came from: a file path, or 'placeholder'. */
  source: string;
  /** A fingerprint of the template: with a redemption id it names the stamped bytes. */
  id: string;
  stamp(profile: DedicatedProfile): Uint8Array;
  /**
   * The same bytes as two parts: the template's shared prefix (never copied) and the
   * build's own tail, so a download writes them without assembling a new buffer.
   */
  stampParts(profile: DedicatedProfile): [Uint8Array, Uint8Array];
}

interface Entry {
  local: Uint8Array;
  central: Uint8Array;
}

function entry(name: string, data: Uint8Array, offset: number, compress: boolean): Entry {
  const nameBytes = strToU8(name);
  // Native zlib, once per template file; entries that do not shrink are stored.
  const deflated = compress ? new Uint8Array(deflateRawSync(data, { level: 9 })) : null;
  const body = deflated && deflated.length < data.length ? deflated : data;
  const method = body === data ? 0 : 8;
  const crc = crc32(data) >>> 0;
  const local = new Uint8Array(30 + nameBytes.length + body.length);
  const l = new DataView(local.buffer);
  l.setUint32(0, 0x04034b50, true);
  l.setUint16(4, 20, true);
  l.setUint16(6, 0x0800, true);
  l.setUint16(8, method, true);
  l.setUint16(10, 0, true);
  l.setUint16(12, DOS_DATE, true);
  l.setUint32(14, crc, true);
  l.setUint32(18, body.length, true);
  l.setUint32(22, data.length, true);
  l.setUint16(26, nameBytes.length, true);
  l.setUint16(28, 0, true);
  local.set(nameBytes, 30);
  local.set(body, 30 + nameBytes.length);
  const central = new Uint8Array(46 + nameBytes.length);
  const c = new DataView(central.buffer);
  c.setUint32(0, 0x02014b50, true);
  c.setUint16(4, 20, true);
  c.setUint16(6, 20, true);
  c.setUint16(8, 0x0800, true);
  c.setUint16(10, method, true);
  c.setUint16(12, 0, true);
  c.setUint16(14, DOS_DATE, true);
  c.setUint32(16, crc, true);
  c.setUint32(20, body.length, true);
  c.setUint32(24, data.length, true);
  c.setUint16(28, nameBytes.length, true);
  c.setUint32(42, offset, true);
  central.set(nameBytes, 46);
  return { local, central };
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function prepareTemplate(templateBytes: Uint8Array, source: string, stampOpts: StampOptions = {}): XpiTemplate {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(templateBytes);
  } catch {
    throw new SealError('MALFORMED', `${source} is not a zip file`);
  }
  const manifestBytes = files[MANIFEST];
  if (!manifestBytes) throw new SealError('MALFORMED', `${source} has no manifest.json`);
  let id: unknown;
  try {
    id = JSON.parse(new TextDecoder().decode(manifestBytes))?.browser_specific_settings?.gecko?.id;
  } catch {
    id = undefined;
  }
  if (id !== TEMPLATE_ID || files[PROFILE]) throw new SealError('MALFORMED', `${source} is not the sealcode dedicated template`);
  const manifestJson = new TextDecoder().decode(manifestBytes);
  const fixed: Entry[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name.endsWith('/') || name === MANIFEST || name === PROFILE) continue;
    const e = entry(name, data, offset, true);
    fixed.push(e);
    offset += e.local.length;
  }
  const prefix = concatAll(fixed.map((e) => e.local));
  // The template files' central directory entries never change (they come first, at fixed
  // offsets): joined once, not per download.
  const prefixCentral = concatAll(fixed.map((e) => e.central));
  // Purchaser names by certificate: decoding a certificate per download is wasted work.
  const names = new Map<string, string>();
  const purchaserName = (p: DedicatedProfile): string => {
    let n = names.get(p.purchaserCert);
    if (n === undefined) {
      n = profileCerts(p).purchaser.name;
      if (names.size > 10_000) names.clear();
      names.set(p.purchaserCert, n);
    }
    return n;
  };
  const stampParts = (profile: DedicatedProfile): [Uint8Array, Uint8Array] => {
      const p = parseProfile(profile);
      const m = JSON.parse(manifestJson) as { name: string; browser_specific_settings: { gecko: Record<string, string> } };
      const name = stampOpts.name ?? `sealcode for ${purchaserName(p)}`;
      m.name = name.length > MAX_NAME ? name.slice(0, MAX_NAME - 1) + '…' : name;
      m.browser_specific_settings.gecko.id = stampOpts.addonId ?? dedicatedId(p.buildId);
      if (stampOpts.updateUrl) m.browser_specific_settings.gecko.update_url = stampOpts.updateUrl;
      const me = entry(MANIFEST, strToU8(JSON.stringify(m, null, 2)), prefix.length, false);
      const pe = entry(PROFILE, strToU8(JSON.stringify(p)), prefix.length + me.local.length, false);
      const centralLength = prefixCentral.length + me.central.length + pe.central.length;
      const cdOffset = prefix.length + me.local.length + pe.local.length;
      const eocd = new Uint8Array(22);
      const d = new DataView(eocd.buffer);
      const count = fixed.length + 2;
      d.setUint32(0, 0x06054b50, true);
      d.setUint16(8, count, true);
      d.setUint16(10, count, true);
      d.setUint32(12, centralLength, true);
      d.setUint32(16, cdOffset, true);
      return [prefix, concatAll([me.local, pe.local, prefixCentral, me.central, pe.central, eocd])];
  };
  return {
    source,
    id: createHash('sha256').update(templateBytes).digest('hex').slice(0, 16),
    stampParts,
    stamp: (profile) => concatAll(stampParts(profile)),
  };
}

/** Until the add-on's template is built: a minimal dedicated MailExtension. */
export function placeholderTemplate(): Uint8Array {
  const manifest = {
    manifest_version: 3,
    name: 'sealcode (dedicated)',
    version: '0.1.0',
    description: 'Dedicated sealcode build (placeholder template: run `npm run build` for the real add-on)',
    browser_specific_settings: { gecko: { id: TEMPLATE_ID, strict_min_version: '128.0' } },
    background: { scripts: ['background.js'] },
    permissions: ['storage'],
  };
  return zipSync(
    {
      [MANIFEST]: strToU8(JSON.stringify(manifest, null, 2)),
      'background.js': strToU8('// placeholder: the real dedicated add-on is built by `npm run build`\n'),
    },
    { mtime: new Date(1980, 0, 1) },
  );
}

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export const defaultTemplatePath = (): string => join(packageRoot(), 'dist', TEMPLATE_NAME);

/** The template at `path`, else dist/ of this package, else the placeholder. */
export function loadTemplate(path?: string, stampOpts: StampOptions = {}): XpiTemplate {
  if (path) return prepareTemplate(new Uint8Array(readFileSync(path)), path, stampOpts);
  const p = defaultTemplatePath();
  if (existsSync(p)) return prepareTemplate(new Uint8Array(readFileSync(p)), p, stampOpts);
  return prepareTemplate(placeholderTemplate(), 'placeholder', stampOpts);
}
