// The dedicated profile (docs/FORMAT.md §8): everything a dedicated build needs,
// as JSON. The distributor writes it at redemption; the add-on carries it inside.
import { decodeCert, type BuildCert, type CardCert } from './certs.js';
import { fromBase64 } from './bytes.js';
import { SealError, malformed } from './errors.js';
import type { BuildSecrets } from './party.js';

export interface DedicatedProfile {
  sealcode: 'dedicated-profile';
  v: 1;
  buildId: string;
  buildCert: string; // base64
  buildSecret: string; // base64 Ed25519 secret
  codeKey: string; // base64 K(keyLabel)
  issuerPublicKey: string; // base64
  purchaserCert: string; // base64 card certificate of the purchaser whose code it was
  expires: number; // ms since epoch
  distributorUrl?: string;
  /**
   * A blind code's build: 'needed' until the code's blind part has been mixed into
   * codeKey (card/blind.ts completeProfile), 'applied' after. Absent: not blind.
   */
  blind?: 'needed' | 'applied';
}

export function parseProfile(json: unknown): DedicatedProfile {
  const p = json as DedicatedProfile;
  if (!p || p.sealcode !== 'dedicated-profile' || p.v !== 1) throw malformed('not a sealcode dedicated profile');
  for (const k of ['buildId', 'buildCert', 'buildSecret', 'codeKey', 'issuerPublicKey', 'purchaserCert'] as const)
    if (typeof p[k] !== 'string') throw malformed(`dedicated profile lacks ${k}`);
  if (typeof p.expires !== 'number') throw malformed('dedicated profile lacks expires');
  if (p.blind !== undefined && p.blind !== 'needed' && p.blind !== 'applied') throw malformed('dedicated profile has an unknown blind state');
  return p;
}

export function profileSecrets(p: DedicatedProfile): BuildSecrets {
  if (p.blind === 'needed')
    throw new SealError('REFUSED', "this dedicated build was made from a blind code and lacks the code's blind part (after \"+\"): give the whole code once (`--code`, or the add-on asks on first start)");
  return { cert: fromBase64(p.buildCert), buildSecret: fromBase64(p.buildSecret), codeKey: fromBase64(p.codeKey) };
}

export function profileCerts(p: DedicatedProfile): { build: BuildCert; purchaser: CardCert } {
  const build = decodeCert(fromBase64(p.buildCert));
  const purchaser = decodeCert(fromBase64(p.purchaserCert));
  if (build.type !== 'build' || purchaser.type !== 'card') throw malformed('dedicated profile certificates are of the wrong kind');
  return { build, purchaser };
}
