// Issuer-signed certificates (docs/FORMAT.md §4). A card certificate binds a card's
// individual keys to its purchaser and group; a build certificate binds a dedicated
// build's key to the code it was made from, the purchaser's card and its expiry.
import { Reader, Writer, concat, utf8, equalBytes } from './bytes.js';
import { SealError, malformed } from './errors.js';
import { sign, verify } from './keys.js';

const MAGIC = utf8('SCCT');
const VERSION = 1;
const SIG_CONTEXT = utf8('sealcode cert v1\0');
/** The largest time a JavaScript Date represents (ms since epoch). */
export const MAX_TIME = 8.64e15;

export type KeyKind = 'code' | 'id';

export interface CardCert {
  type: 'card';
  cardId: string;
  purchaserId: string;
  name: string;
  email: string;
  groupId: string;
  moduleKind: string;
  signPub: Uint8Array;
  kxPub: Uint8Array;
  notBefore: number; // ms since epoch
  notAfter: number;
}

export interface BuildCert {
  type: 'build';
  buildId: string;
  serial: string; // the code that was redeemed
  keyKind: KeyKind; // what the build's key is derived from
  keyLabel: string; // the serial itself, or the purchaser's ID in ID mode
  cardId: string; // the purchaser's card whose code it was
  groupId: string;
  purchaserName: string;
  purchaserEmail: string;
  redeemerEmail: string;
  signPub: Uint8Array;
  notBefore: number;
  notAfter: number;
  copyOf: string; // parent build id for a copy right (claim 14); '' when none
}

export type Cert = CardCert | BuildCert;

export interface SignedCert {
  cert: Cert;
  /** The exact bytes that were signed and travel in headers. */
  bytes: Uint8Array;
}

function encodeBody(c: Cert): Uint8Array {
  const w = new Writer().raw(MAGIC).u8(VERSION);
  if (c.type === 'card') {
    w.u8(1).str(c.cardId).str(c.purchaserId).str(c.name).str(c.email).str(c.groupId).str(c.moduleKind);
    w.bytes(c.signPub).bytes(c.kxPub).u64(c.notBefore).u64(c.notAfter);
  } else {
    w.u8(2).str(c.buildId).str(c.serial).u8(c.keyKind === 'code' ? 1 : 2).str(c.keyLabel).str(c.cardId);
    w.str(c.groupId).str(c.purchaserName).str(c.purchaserEmail).str(c.redeemerEmail);
    w.bytes(c.signPub).u64(c.notBefore).u64(c.notAfter).str(c.copyOf);
  }
  return w.done();
}

export function issueCert(issuerSecret: Uint8Array, cert: Cert): SignedCert {
  const body = encodeBody(cert);
  const sig = sign(issuerSecret, concat(SIG_CONTEXT, body));
  return { cert, bytes: concat(body, sig) };
}

/** Parses a certificate without checking its signature. */
export function decodeCert(bytes: Uint8Array): Cert {
  const r = new Reader(bytes);
  if (!equalBytes(r.raw(4), MAGIC)) throw malformed('not a sealcode certificate');
  if (r.u8() !== VERSION) throw malformed('unsupported certificate version');
  const type = r.u8();
  let cert: Cert;
  if (type === 1) {
    cert = {
      type: 'card',
      cardId: r.str(),
      purchaserId: r.str(),
      name: r.str(),
      email: r.str(),
      groupId: r.str(),
      moduleKind: r.str(),
      signPub: r.fixed(32),
      kxPub: r.fixed(32),
      notBefore: r.u64(),
      notAfter: r.u64(),
    };
  } else if (type === 2) {
    const buildId = r.str();
    const serial = r.str();
    const kk = r.u8();
    if (kk !== 1 && kk !== 2) throw malformed('unknown build key kind');
    cert = {
      type: 'build',
      buildId,
      serial,
      keyKind: kk === 1 ? 'code' : 'id',
      keyLabel: r.str(),
      cardId: r.str(),
      groupId: r.str(),
      purchaserName: r.str(),
      purchaserEmail: r.str(),
      redeemerEmail: r.str(),
      signPub: r.fixed(32),
      notBefore: r.u64(),
      notAfter: r.u64(),
      copyOf: r.str(),
    };
  } else throw malformed('unknown certificate type');
  // Times past what a Date can hold would break every "expired on <date>" message downstream.
  if (cert.notBefore > MAX_TIME || cert.notAfter > MAX_TIME) throw malformed('certificate time out of range');
  if (r.remaining !== 64) throw malformed('certificate signature missing or trailing bytes');
  return cert;
}

/** Parses and checks the issuer's signature; a bad signature is TAMPERED. */
export function verifyCert(bytes: Uint8Array, issuerPub: Uint8Array): SignedCert {
  const cert = decodeCert(bytes);
  const body = bytes.subarray(0, bytes.length - 64);
  if (!verify(issuerPub, concat(SIG_CONTEXT, body), bytes.subarray(bytes.length - 64)))
    throw new SealError('TAMPERED', 'certificate is not signed by the issuer');
  return { cert, bytes };
}

/** The one name receivers show for a certificate's holder. */
export function describeCert(c: Cert): string {
  return c.type === 'card'
    ? `card ${c.cardId} of ${c.name} <${c.email}>`
    : `dedicated build ${c.buildId} (code ${c.serial}) of ${c.redeemerEmail}, for ${c.purchaserName} <${c.purchaserEmail}>`;
}
