// A card's objects in a token: which exist, how a card is put onto a token, and the
// card's key operations (card/keyops.ts) done by the token. Objects carry the card id as
// CKA_ID and "sealcode CARDID ROLE" as label, so several cards can share one token.
import { utf8 } from '../../card/bytes.js';
import type { CardKeyOps } from '../../card/keyops.js';
import { CKM_EDDSA, CKM_SHA256_HMAC, Token, TokenError, type Handle } from './pkcs11.js';
import pkcs11js from 'pkcs11js';

export type Role = 'sign' | 'kx' | 'group' | 'file' | 'blind';
export const ROLES: Record<Role, string> = {
  sign: 'Ed25519 signing key (individual)',
  kx: 'X25519 agreement key (individual)',
  group: 'group key Ka (HMAC-SHA256 secret)',
  file: 'card-file key secret (HMAC-SHA256)',
  blind: 'blind secret B (HMAC-SHA256)',
};

export const objectLabel = (cardId: string, role: Role): string => `sealcode ${cardId} ${role}`;
const idOf = (cardId: string): Buffer => Buffer.from(utf8(cardId));

export function findRole(t: Token, cardId: string, role: Role): Handle | null {
  return t.find([{ type: pkcs11js.CKA_LABEL, value: objectLabel(cardId, role) }, { type: pkcs11js.CKA_ID, value: idOf(cardId) }])[0] ?? null;
}

/** Every object of a card in the token. */
export const cardObjects = (t: Token, cardId: string): Handle[] => t.find([{ type: pkcs11js.CKA_ID, value: idOf(cardId) }]);

function need(t: Token, cardId: string, role: Role): Handle {
  const h = findRole(t, cardId, role);
  if (!h) throw new TokenError(`the token "${t.address.label}" holds no ${ROLES[role]} for card ${cardId}: is it the right token?`, 1, 'NO_TOKEN');
  return h;
}

/** Makes the card's individual key pairs in the token; the private halves never leave it. */
export function generateCardKeys(t: Token, cardId: string): { signPub: Uint8Array; kxPub: Uint8Array } {
  if (cardObjects(t, cardId).length) throw new TokenError(`the token already holds objects of card ${cardId}`, 1, 'USAGE');
  const signPub = new Uint8Array(t.generateCurveKey('ed25519', objectLabel(cardId, 'sign'), idOf(cardId)));
  const kxPub = new Uint8Array(t.generateCurveKey('x25519', objectLabel(cardId, 'kx'), idOf(cardId)));
  return { signPub, kxPub };
}

/** Moves an existing card's secrets into the token (a keyfile card becoming a token card). */
export function importCardKeys(t: Token, cardId: string, k: { signSecret: Uint8Array; kxSecret: Uint8Array }): void {
  if (cardObjects(t, cardId).length) throw new TokenError(`the token already holds objects of card ${cardId}`, 1, 'USAGE');
  t.importCurveKey('ed25519', objectLabel(cardId, 'sign'), idOf(cardId), k.signSecret);
  t.importCurveKey('x25519', objectLabel(cardId, 'kx'), idOf(cardId), k.kxSecret);
}

/** Imports Ka and makes the card-file secret: the last steps of issuing onto a token. */
export function storeCardSecrets(t: Token, cardId: string, groupKey: Uint8Array): void {
  t.secretKey(objectLabel(cardId, 'group'), idOf(cardId), groupKey);
  t.secretKey(objectLabel(cardId, 'file'), idOf(cardId));
}

/** B into the token: imported (from another card of the group) or made inside. */
export function storeBlindSecret(t: Token, cardId: string, value?: Uint8Array): void {
  if (findRole(t, cardId, 'blind')) throw new TokenError(`the token already holds a blind secret for card ${cardId}`, 2, 'USAGE');
  t.secretKey(objectLabel(cardId, 'blind'), idOf(cardId), value);
}

/** Removes what an interrupted issue left behind. */
export function removeCard(t: Token, cardId: string): void {
  for (const h of cardObjects(t, cardId)) t.destroy(h);
}

export const fileMac = (t: Token, cardId: string) => async (msg: Uint8Array): Promise<Uint8Array> => t.sign(CKM_SHA256_HMAC, need(t, cardId, 'file'), msg, 32);

export function tokenKeyOps(t: Token, cardId: string): CardKeyOps {
  const sign = need(t, cardId, 'sign');
  const kx = need(t, cardId, 'kx');
  const group = need(t, cardId, 'group');
  return {
    custody: 'token',
    sign: async (msg) => t.sign(CKM_EDDSA, sign, msg, 64),
    agree: async (peer) => t.ecdh(kx, peer),
    groupMac: async (msg) => t.sign(CKM_SHA256_HMAC, group, msg, 32),
    async blindMac(msg) {
      const b = findRole(t, cardId, 'blind');
      return b ? t.sign(CKM_SHA256_HMAC, b, msg, 32) : null;
    },
  };
}
