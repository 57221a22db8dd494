// The card file of a card whose secrets live in a PKCS#11 token (docs/FORMAT.md §7.1).
// It names the token and holds only public parts, codes and pair keys, sealed under a
// key the token makes: HMAC-SHA256(file secret, salt), the file secret never leaving
// the token. Without the token and its PIN the file opens to nobody.
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { concat, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { SealError, malformed } from './errors.js';
import type { CardData } from './cardfile.js';

export interface TokenRef {
  /** The PKCS#11 module (shared library) path. */
  module: string;
  /** The token's label. */
  label: string;
  /** The card whose objects to use (several cards may share a token). */
  cardId: string;
}

interface TokenEnvelope {
  sealcode: 'card';
  v: 1;
  kdf: { name: 'pkcs11-hmac'; salt: string };
  token: TokenRef;
  nonce: string;
  ct: string;
}

const AAD = utf8('sealcode token card file v1');
/** What the token's file secret is asked to MAC: this label and the file's salt. */
export const fileKeyMessage = (salt: Uint8Array): Uint8Array => concat(utf8('sealcode card file key'), Uint8Array.of(0), salt);

const refAad = (r: TokenRef): Uint8Array => concat(AAD, utf8(JSON.stringify([r.module, r.label, r.cardId])));

/** The token a card file names, or null when it is a passphrase card file. */
export function tokenRefOf(text: string): TokenRef | null {
  let env: Partial<TokenEnvelope>;
  try {
    env = JSON.parse(text) as TokenEnvelope;
  } catch {
    return null;
  }
  if (env?.sealcode !== 'card' || env.kdf?.name !== 'pkcs11-hmac') return null;
  const t = env.token;
  if (!t || typeof t.module !== 'string' || typeof t.label !== 'string' || typeof t.cardId !== 'string' || !t.module || !t.label)
    throw malformed('the token card file does not name its token');
  return { module: t.module, label: t.label, cardId: t.cardId };
}

/** Card data with its secret fields emptied: what a token card file may hold. */
export function publicCardData(d: CardData): CardData {
  const { blindSecret: _b, ...rest } = d;
  return { ...rest, signSecret: '', kxSecret: '', groupKey: '' };
}

export async function sealTokenCardFile(data: CardData, ref: TokenRef, fileMac: (msg: Uint8Array) => Promise<Uint8Array>): Promise<string> {
  if (data.signSecret || data.kxSecret || data.groupKey || data.blindSecret) throw new SealError('USAGE', 'a token card file must not hold secrets');
  const salt = randomBytes(16);
  const nonce = randomBytes(24);
  const key = await fileMac(fileKeyMessage(salt));
  const ct = xchacha20poly1305(key, nonce, refAad(ref)).encrypt(utf8(JSON.stringify(data)));
  const env: TokenEnvelope = { sealcode: 'card', v: 1, kdf: { name: 'pkcs11-hmac', salt: toBase64(salt) }, token: ref, nonce: toBase64(nonce), ct: toBase64(ct) };
  return JSON.stringify(env, null, 1) + '\n';
}

export async function openTokenCardFile(text: string, fileMac: (msg: Uint8Array) => Promise<Uint8Array>): Promise<CardData> {
  const ref = tokenRefOf(text);
  if (!ref) throw malformed('not a token card file');
  const env = JSON.parse(text) as TokenEnvelope;
  if (env.v !== 1 || typeof env.kdf.salt !== 'string' || typeof env.nonce !== 'string' || typeof env.ct !== 'string') throw malformed('not a token card file');
  const key = await fileMac(fileKeyMessage(fromBase64(env.kdf.salt)));
  let pt: Uint8Array;
  try {
    pt = xchacha20poly1305(key, fromBase64(env.nonce), refAad(ref)).decrypt(fromBase64(env.ct));
  } catch {
    throw new SealError('TAMPERED', 'the token card file does not open with this token (changed, or another token)');
  }
  let data: CardData;
  try {
    data = JSON.parse(fromUtf8(pt)) as CardData;
  } catch {
    throw malformed('card file contents not understood');
  }
  if (data?.v !== 1 || data.cardId !== ref.cardId) throw malformed('card file contents not understood');
  return data;
}
