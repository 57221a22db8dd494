// The card file (docs/FORMAT.md §7): a card's secrets sealed with a passphrase.
// scrypt stretches the passphrase; XChaCha20-Poly1305 seals the JSON. The parameters
// travel in the envelope so they can be raised later without breaking old cards.
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { SealError, malformed } from './errors.js';
import { SCRYPT_MAXMEM, parseEnvelope, passphraseBytes, type Envelope } from './cardfile-envelope.js';
import type { CardSecrets } from './party.js';

export type CardCodeState = 'unused' | 'given' | 'in_use' | 'already_used' | 'revoked';

export interface CardCode {
  serial: string;
  code: string; // the full code to hand over
  state: CardCodeState;
  givenTo?: string;
  expires?: number;
}

export interface CardData {
  v: 1;
  cardId: string;
  purchaser: { id: string; name: string; email: string };
  moduleKind: string;
  groupId: string;
  cert: string; // base64 card certificate
  signSecret: string; // base64
  kxSecret: string; // base64 X25519 secret, for bundles and pair keys sealed to the card
  groupKey: string; // base64 Ka
  issuerPublicKey: string; // base64
  codes: CardCode[];
  pairs: { pairId: string; peerCardId: string; key: string }[];
  distributorUrl?: string;
  /** The group uses distributor-blind codes (docs/FORMAT.md §2.1). */
  blind?: boolean;
  /** base64 blind secret B, on a keyfile card once `card blind` made or imported it. */
  blindSecret?: string;
  /** On a token card: B lives in the token instead. */
  blindInToken?: boolean;
}

export const DEFAULT_SCRYPT_N = 1 << 16;
const AAD = utf8('sealcode card file v1');

/** scrypt with dkLen 32; Node swaps in its native one (card/scrypt-node.ts), same bytes. */
export type Scrypt = (pass: Uint8Array, salt: Uint8Array, N: number, r: number, p: number) => Promise<Uint8Array>;
let scrypt: Scrypt = (pass, salt, N, r, p) => scryptAsync(pass, salt, { N, r, p, dkLen: 32, maxmem: SCRYPT_MAXMEM });
export function setScrypt(f: Scrypt): void {
  scrypt = f;
}

const derive = (pass: string, salt: Uint8Array, N: number, r: number, p: number): Promise<Uint8Array> =>
  scrypt(passphraseBytes(pass), salt, N, r, p);

export async function sealCardFile(data: CardData, passphrase: string, N = DEFAULT_SCRYPT_N): Promise<string> {
  if (!passphrase) throw new SealError('USAGE', 'a card passphrase is required');
  const salt = randomBytes(16);
  const nonce = randomBytes(24);
  const key = await derive(passphrase, salt, N, 8, 1);
  const ct = xchacha20poly1305(key, nonce, AAD).encrypt(utf8(JSON.stringify(data)));
  const env: Envelope = {
    sealcode: 'card',
    v: 1,
    kdf: { name: 'scrypt', N, r: 8, p: 1, salt: toBase64(salt) },
    nonce: toBase64(nonce),
    ct: toBase64(ct),
  };
  return JSON.stringify(env, null, 1) + '\n';
}

export async function openCardFile(text: string, passphrase: string): Promise<CardData> {
  const env = parseEnvelope(text);
  const { N, r, p } = env.kdf;
  const key = await derive(passphrase, fromBase64(env.kdf.salt), N, r, p);
  let pt: Uint8Array;
  try {
    pt = xchacha20poly1305(key, fromBase64(env.nonce), AAD).decrypt(fromBase64(env.ct));
  } catch {
    throw new SealError('BAD_PASSPHRASE', 'wrong passphrase for this card file (or the file was changed)');
  }
  let data: CardData;
  try {
    data = JSON.parse(fromUtf8(pt)) as CardData;
  } catch {
    throw malformed('card file contents not understood');
  }
  if (data?.v !== 1 || typeof data.cardId !== 'string') throw malformed('card file contents not understood');
  return data;
}

export function cardSecretsOf(d: CardData): CardSecrets {
  return {
    cert: fromBase64(d.cert),
    signSecret: fromBase64(d.signSecret),
    groupKey: fromBase64(d.groupKey),
    groupId: d.groupId,
    pairs: d.pairs.map((p) => ({ pairId: p.pairId, key: fromBase64(p.key) })),
    blind: d.blind,
    ...(d.blindSecret ? { blindSecret: fromBase64(d.blindSecret) } : {}),
  };
}
