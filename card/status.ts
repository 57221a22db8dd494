// The issuer-signed status list (revoked and expired codes, builds and cards) that
// the distributor publishes and gateways and `verify --status` consult.
import { fromUtf8, utf8, fromBase64, toBase64, concat } from './bytes.js';
import { SealError, malformed } from './errors.js';
import { sign, verify } from './keys.js';

export interface StatusList {
  issuedAt: number; // ms since epoch
  revoked: { codes: string[]; builds: string[]; cards: string[] };
}

export interface SignedStatus {
  body: string; // base64 of the JSON StatusList
  sig: string; // base64 Ed25519 by the issuer
}

const CONTEXT = utf8('sealcode status v1\0');

export function signStatus(issuerSecret: Uint8Array, list: StatusList): SignedStatus {
  const body = utf8(JSON.stringify(list));
  return { body: toBase64(body), sig: toBase64(sign(issuerSecret, concat(CONTEXT, body))) };
}

export function verifyStatus(signed: SignedStatus, issuerPub: Uint8Array): StatusList {
  if (typeof signed?.body !== 'string' || typeof signed?.sig !== 'string') throw malformed('malformed status list');
  const body = fromBase64(signed.body);
  if (!verify(issuerPub, concat(CONTEXT, body), fromBase64(signed.sig)))
    throw new SealError('TAMPERED', 'status list is not signed by the issuer');
  let list: StatusList;
  try {
    list = JSON.parse(fromUtf8(body)) as StatusList;
  } catch {
    throw malformed('malformed status list');
  }
  const arr = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (!list || typeof list.issuedAt !== 'number' || !arr(list.revoked?.codes) || !arr(list.revoked?.builds) || !arr(list.revoked?.cards))
    throw malformed('malformed status list');
  return list;
}
