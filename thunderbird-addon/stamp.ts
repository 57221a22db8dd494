// Stamping: one redemption's profile into the prepared dedicated template, without
// rebuilding anything. The template's files are carried over; profile.json is added and
// the manifest gets its own id (one per build, so several builds can coexist), the name
// "sealcode for <purchaser>", and an update URL when configured.
import { unzipSync, zipSync, strToU8, strFromU8, type Unzipped, type Zippable } from 'fflate';
import { malformed } from '../card/errors.js';
import { parseProfile, profileCerts, type DedicatedProfile } from '../card/profile.js';
import { TEMPLATE_ID, dedicatedId, type Manifest } from './manifest.js';

export interface StampOptions {
  /** Default: derived from the build id. */
  addonId?: string;
  /** Default: "sealcode for <purchaser name>". */
  name?: string;
  updateUrl?: string;
}

export const PROFILE_ENTRY = 'profile.json';
const MAX_NAME = 45;

function readZip(bytes: Uint8Array, filter?: (name: string) => boolean): Unzipped {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) throw malformed('not an XPI (zip) file');
  try {
    return filter ? unzipSync(bytes, { filter: (f) => filter(f.name) }) : unzipSync(bytes);
  } catch {
    throw malformed('the XPI (zip) file is damaged');
  }
}

export function stampDedicatedXpi(templateBytes: Uint8Array, profile: DedicatedProfile, opts: StampOptions = {}): Uint8Array {
  const p = parseProfile(profile);
  const { purchaser } = profileCerts(p);
  const files = readZip(templateBytes);
  const raw = files['manifest.json'];
  if (!raw) throw malformed('the XPI has no manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(strFromU8(raw)) as Manifest;
  } catch {
    throw malformed("the XPI's manifest.json is not JSON");
  }
  if (manifest.browser_specific_settings?.gecko?.id !== TEMPLATE_ID || files[PROFILE_ENTRY])
    throw malformed('not the sealcode dedicated template (already stamped, or another add-on)');
  const name = opts.name ?? `sealcode for ${purchaser.name}`;
  manifest.name = name.length > MAX_NAME ? name.slice(0, MAX_NAME - 1) + '…' : name;
  manifest.browser_specific_settings.gecko.id = opts.addonId ?? dedicatedId(p.buildId);
  if (opts.updateUrl) manifest.browser_specific_settings.gecko.update_url = opts.updateUrl;
  const out: Zippable = {};
  for (const [k, v] of Object.entries(files)) if (k !== 'manifest.json') out[k] = [v, { level: 6 }];
  out['manifest.json'] = strToU8(JSON.stringify(manifest, null, 2));
  out[PROFILE_ENTRY] = strToU8(JSON.stringify(p));
  return zipSync(out, { mtime: new Date('2024-01-01T00:00:00Z') });
}

/** The profile inside a stamped XPI (`sealcode dedicated ... --build FILE.xpi`). */
export function profileFromXpi(xpi: Uint8Array): DedicatedProfile {
  const f = readZip(xpi, (n) => n === PROFILE_ENTRY)[PROFILE_ENTRY];
  if (!f) throw malformed('this XPI holds no dedicated profile (the unstamped template, or another add-on)');
  let json: unknown;
  try {
    json = JSON.parse(strFromU8(f));
  } catch {
    throw malformed("the XPI's profile.json is not JSON");
  }
  return parseProfile(json);
}
