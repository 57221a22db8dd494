// The card's long-term secrets behind one small interface, so that the same card logic
// runs whether they sit in memory (a passphrase-sealed card file) or in a PKCS#11 token
// that never lets them out (cli/token/). Everything that needs a card secret asks here:
// signatures, X25519 agreement, and PRF(Ka, ·) / PRF(B, ·) as HMAC-SHA256. What comes
// back is always a per-use value (a signature, an agreement with an ephemeral key, a
// code key), never Ka, B or a private key.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { concat, utf8 } from './bytes.js';
import { malformed } from './errors.js';
import { sign } from './keys.js';

export interface CardKeyOps {
  /** Where the secrets are: 'memory' (card file) or 'token' (PKCS#11). */
  readonly custody: 'memory' | 'token';
  /** Ed25519 signature with the card's individual key. */
  sign(msg: Uint8Array): Promise<Uint8Array>;
  /** X25519(card's agreement key, peer): the shared secret with an (ephemeral) peer key. */
  agree(peerPub: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA256 keyed with the group key Ka. */
  groupMac(msg: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA256 keyed with the group's blind secret B; null when the card holds none. */
  blindMac(msg: Uint8Array): Promise<Uint8Array | null>;
}

/** The PRF input of card/keys.ts: label ‖ 0x00 ‖ input. */
export const prfMessage = (label: string, input: string): Uint8Array => concat(utf8(label), Uint8Array.of(0), utf8(input));

export interface MemorySecrets {
  signSecret: Uint8Array;
  kxSecret?: Uint8Array;
  groupKey: Uint8Array;
  blindSecret?: Uint8Array;
}

export function memoryKeyOps(s: MemorySecrets): CardKeyOps {
  return {
    custody: 'memory',
    sign: async (msg) => sign(s.signSecret, msg),
    async agree(peer) {
      if (!s.kxSecret) throw malformed('this card holds no agreement key');
      try {
        return x25519.getSharedSecret(s.kxSecret, peer);
      } catch {
        throw malformed('invalid X25519 public key');
      }
    },
    groupMac: async (msg) => hmac(sha256, s.groupKey, msg),
    blindMac: async (msg) => (s.blindSecret ? hmac(sha256, s.blindSecret, msg) : null),
  };
}
