// What the issuer (seller) signs into being: cards and dedicated builds. Pure, so the
// distributor, the CLI's off-line redemption and the tests make them the same way.
import { issueCert, type BuildCert, type CardCert, type KeyKind } from './certs.js';
import { toBase64 } from './bytes.js';
import { codeKey, idKey, newAgreementKey, newSigningKey, randomKey } from './keys.js';
import { generateCode } from './codes.js';
import type { CardData } from './cardfile.js';
import type { DedicatedProfile } from './profile.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { ALPHABET } from './codes.js';

export const DAY_MS = 24 * 60 * 60 * 1000;

/** A random identifier: prefix + 16 Crockford characters (80 bits). */
export function newId(prefix: string): string {
  let s = '';
  for (const b of randomBytes(16)) s += ALPHABET[b & 31];
  return `${prefix}_${s}`;
}

export interface NewCardInput {
  cardId?: string;
  purchaser: { id: string; name: string; email: string };
  moduleKind?: string;
  groupId: string;
  groupKey: Uint8Array;
  codes?: number;
  validDays?: number;
  now?: number;
  /** The card's public keys when its private keys were made elsewhere (in a token): the card data then holds no secret of them. */
  publicKeys?: { signPub: Uint8Array; kxPub: Uint8Array };
  /** The group uses distributor-blind codes. */
  blind?: boolean;
}

export interface NewCard {
  data: CardData;
  cert: CardCert;
  certBytes: Uint8Array;
  kxPub: Uint8Array;
}

export function makeCard(issuerSecret: Uint8Array, issuerPub: Uint8Array, input: NewCardInput): NewCard {
  const now = input.now ?? Date.now();
  const empty = new Uint8Array(0);
  const sig = input.publicKeys ? { publicKey: input.publicKeys.signPub, secretKey: empty } : newSigningKey();
  const kx = input.publicKeys ? { publicKey: input.publicKeys.kxPub, secretKey: empty } : newAgreementKey();
  const cert: CardCert = {
    type: 'card',
    cardId: input.cardId ?? newId('card'),
    purchaserId: input.purchaser.id,
    name: input.purchaser.name,
    email: input.purchaser.email,
    groupId: input.groupId,
    moduleKind: input.moduleKind ?? 'keyfile',
    signPub: sig.publicKey,
    kxPub: kx.publicKey,
    notBefore: now,
    notAfter: now + (input.validDays ?? 3 * 365) * DAY_MS,
  };
  const signed = issueCert(issuerSecret, cert);
  const codes = Array.from({ length: input.codes ?? 0 }, () => generateCode(now));
  const data: CardData = {
    v: 1,
    cardId: cert.cardId,
    purchaser: input.purchaser,
    moduleKind: cert.moduleKind,
    groupId: input.groupId,
    cert: toBase64(signed.bytes),
    signSecret: toBase64(sig.secretKey),
    kxSecret: toBase64(kx.secretKey),
    groupKey: toBase64(input.groupKey),
    issuerPublicKey: toBase64(issuerPub),
    codes: codes.map((c) => ({ serial: c.serial, code: c.text, state: 'unused' })),
    pairs: [],
    ...(input.blind ? { blind: true } : {}),
  };
  return { data, cert, certBytes: signed.bytes, kxPub: kx.publicKey };
}

export const newGroupKey = randomKey;

export interface NewBuildInput {
  serial: string;
  keyKind?: KeyKind;
  keyLabel?: string; // defaults to the serial; an ID in ID mode
  purchaserCert: CardCert;
  purchaserCertBytes: Uint8Array;
  groupKey: Uint8Array;
  redeemerEmail: string;
  validDays?: number;
  expires?: number;
  copyOf?: string;
  buildId?: string;
  distributorUrl?: string;
  now?: number;
  /** A blind code's build: its key still needs the code's blind part (card/blind.ts). */
  blind?: boolean;
}

export function makeBuild(issuerSecret: Uint8Array, issuerPub: Uint8Array, input: NewBuildInput): DedicatedProfile {
  const now = input.now ?? Date.now();
  const keyKind = input.keyKind ?? 'code';
  const keyLabel = input.keyLabel ?? input.serial;
  const key = newSigningKey();
  const notAfter = input.expires ?? now + (input.validDays ?? 365) * DAY_MS;
  const cert: BuildCert = {
    type: 'build',
    buildId: input.buildId ?? newId('build'),
    serial: input.serial,
    keyKind,
    keyLabel,
    cardId: input.purchaserCert.cardId,
    groupId: input.purchaserCert.groupId,
    purchaserName: input.purchaserCert.name,
    purchaserEmail: input.purchaserCert.email,
    redeemerEmail: input.redeemerEmail,
    signPub: key.publicKey,
    notBefore: Math.min(now, notAfter),
    notAfter,
    copyOf: input.copyOf ?? '',
  };
  const signed = issueCert(issuerSecret, cert);
  return {
    sealcode: 'dedicated-profile',
    v: 1,
    buildId: cert.buildId,
    buildCert: toBase64(signed.bytes),
    buildSecret: toBase64(key.secretKey),
    codeKey: toBase64(keyKind === 'code' ? codeKey(input.groupKey, keyLabel) : idKey(input.groupKey, keyLabel)),
    issuerPublicKey: toBase64(issuerPub),
    purchaserCert: toBase64(input.purchaserCertBytes),
    expires: notAfter,
    ...(input.distributorUrl ? { distributorUrl: input.distributorUrl } : {}),
    ...(input.blind ? { blind: 'needed' as const } : {}),
  };
}
