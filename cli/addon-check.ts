// `sealcode addon check`: does a stamped dedicated build differ from the published
// template only where stamping changes it? The template is reproducible (fixed zip
// times, esbuild), so anyone can rebuild it from source and compare; this compares
// file by file. What may differ: profile.json (added), and in manifest.json only the
// name, the add-on id and the update URL. Anything else is reported by name.
import { unzipSync, strFromU8, type Unzipped } from 'fflate';
import { malformed } from '../card/errors.js';
import { equalBytes } from '../card/bytes.js';
import { parseProfile } from '../card/profile.js';

export interface AddonCheck {
  ok: boolean;
  /** Files whose bytes match the template's. */
  same: number;
  /** What differs beyond the stamp: file names, or manifest keys. */
  differences: string[];
}

const PROFILE = 'profile.json';
const MANIFEST = 'manifest.json';

function unzip(bytes: Uint8Array, what: string): Unzipped {
  try {
    return unzipSync(bytes);
  } catch {
    throw malformed(`${what} is not a readable XPI (zip) file`);
  }
}

function manifestOf(files: Unzipped, what: string): Record<string, unknown> {
  const m = files[MANIFEST];
  if (!m) throw malformed(`${what} has no manifest.json`);
  try {
    return JSON.parse(strFromU8(m)) as Record<string, unknown>;
  } catch {
    throw malformed(`${what}'s manifest.json is not JSON`);
  }
}

/** The manifest without what stamping sets, in a canonical form. */
function unstamped(m: Record<string, unknown>): string {
  const { name: _n, browser_specific_settings: bss, ...rest } = m as { name?: unknown; browser_specific_settings?: { gecko?: Record<string, unknown> } } & Record<string, unknown>;
  const { id: _i, update_url: _u, ...gecko } = bss?.gecko ?? {};
  return canonical({ ...rest, browser_specific_settings: { ...bss, gecko } });
}

const canonical = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(',')}]`
    : v && typeof v === 'object'
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
      : JSON.stringify(v);

export function checkStampedXpi(stamped: Uint8Array, template: Uint8Array): AddonCheck {
  const s = unzip(stamped, 'the add-on');
  const t = unzip(template, 'the template');
  if (t[PROFILE]) throw malformed('the template holds a profile: it is a stamped build, not the template');
  const differences: string[] = [];
  let same = 0;
  if (!s[PROFILE]) differences.push(`${PROFILE} (missing: not a stamped build)`);
  else
    try {
      parseProfile(JSON.parse(strFromU8(s[PROFILE])));
    } catch {
      differences.push(`${PROFILE} (not a dedicated profile)`);
    }
  for (const name of Object.keys(t)) {
    if (name === MANIFEST) continue;
    if (!s[name]) differences.push(`${name} (missing)`);
    else if (!equalBytes(s[name], t[name]!)) differences.push(`${name} (changed)`);
    else same++;
  }
  for (const name of Object.keys(s)) if (!(name in t) && name !== PROFILE) differences.push(`${name} (added)`);
  if (unstamped(manifestOf(s, 'the add-on')) !== unstamped(manifestOf(t, 'the template')))
    differences.push(`${MANIFEST} (changed beyond name, id and update URL)`);
  else same++;
  return { ok: differences.length === 0, same, differences };
}
