// A dedicated profile from either its JSON file or a stamped add-on (XPI), so that
// `sealcode dedicated ... --build FILE` accepts what the distributor hands out.
import fs from 'node:fs';
import { parseProfile, type DedicatedProfile } from '../card/profile.js';
import { profileFromXpi } from '../thunderbird-addon/stamp.js';
import { CliError, EXIT } from './errors.js';

export function loadBuildProfile(file: string): DedicatedProfile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new CliError(`cannot read ${file}`, EXIT.usage, 'USAGE');
  }
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return profileFromXpi(new Uint8Array(bytes));
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new CliError(`${file} is neither a dedicated profile (JSON) nor a stamped add-on (XPI)`, EXIT.malformed, 'MALFORMED');
  }
  return parseProfile(json);
}
