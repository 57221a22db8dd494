// One PKCS#11 token, as the card uses it (docs/keys.md): load the module, find the token
// by label, log in with the PIN (counting wrong PINs ourselves: SoftHSM never locks), and
// the few operations a card needs. Mechanism numbers are PKCS#11 3.0 values that
// pkcs11js has no names for; SoftHSM 2.6 implements them (see docs/keys.md).
import fs from 'node:fs';
import pkcs11js from 'pkcs11js';
import { CliError, EXIT } from '../errors.js';

const P = pkcs11js;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
export const CKM_ECDH1_DERIVE = 0x1050;
export const CKM_SHA256_HMAC = 0x251;
export const CKM_GENERIC_SECRET_KEY_GEN = 0x350;
const CKK_EC_EDWARDS = 0x40;
const CKD_NULL = 1;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
// DER OIDs: id-Ed25519 and id-X25519 (RFC 8410). SoftHSM takes X25519 keys only as
// type CKK_EC_EDWARDS with this OID, not as CKK_EC_MONTGOMERY.
export const OID_ED25519 = Buffer.from('06032b6570', 'hex');
export const OID_X25519 = Buffer.from('06032b656e', 'hex');

/** Wrong PINs in a row before sealcode stops offering the PIN to the token. */
export const MAX_PIN_TRIES = 5;
const COUNTER_LABEL = 'sealcode wrong-PIN counter';

export type Handle = Buffer;

export class TokenError extends CliError {}

const pkcs11Code = (e: unknown): number | undefined => (e instanceof P.Pkcs11Error ? e.code : undefined);

export interface TokenAddress {
  module: string;
  label: string;
}

export class Token {
  private constructor(
    private readonly p: InstanceType<typeof P.PKCS11>,
    readonly session: Handle,
    readonly address: TokenAddress,
  ) {}

  /** Loads the module and opens a read-write session on the token with this label (not yet logged in). */
  static connect(a: TokenAddress): Token {
    if (!fs.existsSync(a.module)) throw new TokenError(`the PKCS#11 module ${a.module} is not there (is the token software installed?)`, EXIT.other, 'NO_TOKEN');
    const p = new P.PKCS11();
    try {
      p.load(a.module);
      try {
        p.C_Initialize();
      } catch (e) {
        // Another Token in this process initialised the module already: that is fine.
        if (pkcs11Code(e) !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
      }
    } catch (e) {
      throw new TokenError(`cannot load the PKCS#11 module ${a.module}: ${(e as Error).message}`, EXIT.other, 'NO_TOKEN');
    }
    try {
      const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === a.label);
      if (!slot) throw new TokenError(`no token labelled "${a.label}" in ${a.module}: is it inserted?`, EXIT.other, 'NO_TOKEN');
      return new Token(p, p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION), a);
    } catch (e) {
      closeQuietly(p);
      throw e instanceof TokenError ? e : new TokenError(`cannot open the token "${a.label}": ${(e as Error).message}`, EXIT.other, 'NO_TOKEN');
    }
  }

  /** Connects and logs in as the user; a wrong PIN counts towards sealcode's own lock-out. */
  static open(a: TokenAddress, pin: string): Token {
    const t = Token.connect(a);
    try {
      t.login(pin);
      return t;
    } catch (e) {
      t.close();
      throw e;
    }
  }

  wrongPins(): number {
    const h = this.find([{ type: P.CKA_CLASS, value: P.CKO_DATA }, { type: P.CKA_LABEL, value: COUNTER_LABEL }])[0];
    return h ? (this.attr(h, P.CKA_VALUE)[0] ?? 0) : 0;
  }

  setWrongPins(n: number): void {
    // SoftHSM keeps a data object's value read-only once made: replace the object.
    for (const h of this.find([{ type: P.CKA_CLASS, value: P.CKO_DATA }, { type: P.CKA_LABEL, value: COUNTER_LABEL }])) this.destroy(h);
    this.p.C_CreateObject(this.session, [
      { type: P.CKA_CLASS, value: P.CKO_DATA },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: false },
      { type: P.CKA_LABEL, value: COUNTER_LABEL },
      { type: P.CKA_APPLICATION, value: 'sealcode' },
      { type: P.CKA_VALUE, value: Buffer.of(Math.min(n, 255)) },
    ]);
  }

  private login(pin: string): void {
    const used = this.wrongPins();
    if (used >= MAX_PIN_TRIES)
      throw new TokenError(
        `the token "${this.address.label}" is locked after ${used} wrong PINs: its security officer unlocks it with \`sealcode card token-unlock\``,
        EXIT.refused,
        'PIN_LOCKED',
      );
    try {
      this.p.C_Login(this.session, P.CKU_USER, pin);
    } catch (e) {
      const code = pkcs11Code(e);
      if (code === CKR_USER_ALREADY_LOGGED_IN) return;
      if (code === CKR_PIN_LOCKED) throw new TokenError(`the token "${this.address.label}" has locked its PIN`, EXIT.refused, 'PIN_LOCKED');
      if (code === CKR_PIN_INCORRECT) {
        this.setWrongPins(used + 1);
        const left = MAX_PIN_TRIES - used - 1;
        throw new TokenError(
          `wrong PIN for the token "${this.address.label}" (${left ? `${left} ${left === 1 ? 'try' : 'tries'} left before sealcode locks it` : 'sealcode has now locked it'})`,
          EXIT.other,
          'BAD_PIN',
        );
      }
      throw new TokenError(`the token refused the login: ${(e as Error).message}`, EXIT.other, 'NO_TOKEN');
    }
    if (used) this.setWrongPins(0);
  }

  /** Logs in as the security officer (only to reset sealcode's PIN counter). */
  loginSO(soPin: string): void {
    try {
      this.p.C_Login(this.session, P.CKU_SO, soPin);
    } catch (e) {
      if (pkcs11Code(e) === CKR_PIN_INCORRECT) throw new TokenError(`wrong security-officer PIN for the token "${this.address.label}"`, EXIT.other, 'BAD_PIN');
      throw new TokenError(`the token refused the security officer: ${(e as Error).message}`, EXIT.other, 'NO_TOKEN');
    }
  }

  find(template: pkcs11js.Template): Handle[] {
    this.p.C_FindObjectsInit(this.session, template);
    try {
      return this.p.C_FindObjects(this.session, 64);
    } finally {
      this.p.C_FindObjectsFinal(this.session);
    }
  }

  attr(h: Handle, type: number): Buffer {
    return this.p.C_GetAttributeValue(this.session, h, [{ type }])[0]!.value as Buffer;
  }

  /** An attribute, or the PKCS#11 error name when the token refuses to give it. */
  tryAttr(h: Handle, type: number): Buffer | { refused: string } {
    try {
      return this.attr(h, type);
    } catch (e) {
      const code = pkcs11Code(e);
      return { refused: code === 0x11 ? 'CKR_ATTRIBUTE_SENSITIVE' : code === 0x12 ? 'CKR_ATTRIBUTE_TYPE_INVALID' : (e as Error).message };
    }
  }

  private keyTemplate(label: string, id: Buffer): pkcs11js.Template {
    return [
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_LABEL, value: label },
      { type: P.CKA_ID, value: id },
    ];
  }

  /** An Ed25519 (sign) or X25519 (derive) key pair made in the token; returns the raw public key. */
  generateCurveKey(curve: 'ed25519' | 'x25519', label: string, id: Buffer): Buffer {
    const oid = curve === 'ed25519' ? OID_ED25519 : OID_X25519;
    const use = curve === 'ed25519' ? P.CKA_SIGN : P.CKA_DERIVE;
    const pair = this.p.C_GenerateKeyPair(
      this.session,
      { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
      [
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_EC_PARAMS, value: oid },
        ...(curve === 'ed25519' ? [{ type: P.CKA_VERIFY, value: true }] : []),
      ],
      [...this.keyTemplate(label, id), { type: use, value: true }],
    );
    const point = this.attr(pair.publicKey, P.CKA_EC_POINT);
    this.p.C_DestroyObject(this.session, pair.publicKey);
    // DER OCTET STRING 04 20 ‖ 32 bytes
    if (point.length !== 34 || point[0] !== 0x04 || point[1] !== 0x20) throw new TokenError('the token returned a public key in an unexpected form');
    return point.subarray(2);
  }

  /** An existing Ed25519 seed or X25519 secret imported as a sensitive, non-extractable key. */
  importCurveKey(curve: 'ed25519' | 'x25519', label: string, id: Buffer, secret: Uint8Array): Handle {
    return this.p.C_CreateObject(this.session, [
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_KEY_TYPE, value: CKK_EC_EDWARDS },
      { type: P.CKA_EC_PARAMS, value: curve === 'ed25519' ? OID_ED25519 : OID_X25519 },
      { type: curve === 'ed25519' ? P.CKA_SIGN : P.CKA_DERIVE, value: true },
      ...this.keyTemplate(label, id),
      { type: P.CKA_VALUE, value: Buffer.from(secret) },
    ]);
  }

  /** A 32-byte HMAC secret: imported (`value`) or made in the token. */
  secretKey(label: string, id: Buffer, value?: Uint8Array): Handle {
    const t: pkcs11js.Template = [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
      { type: P.CKA_SIGN, value: true },
      ...this.keyTemplate(label, id),
    ];
    if (value) return this.p.C_CreateObject(this.session, [...t, { type: P.CKA_VALUE, value: Buffer.from(value) }]);
    return this.p.C_GenerateKey(this.session, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, [...t, { type: P.CKA_VALUE_LEN, value: 32 }]);
  }

  destroy(h: Handle): void {
    this.p.C_DestroyObject(this.session, h);
  }

  sign(mechanism: number, key: Handle, data: Uint8Array, outLen: number): Uint8Array {
    this.p.C_SignInit(this.session, { mechanism }, key);
    return new Uint8Array(this.p.C_Sign(this.session, Buffer.from(data), Buffer.alloc(outLen)));
  }

  /** X25519 inside the token; only this agreement's result comes out (a session object, destroyed at once). */
  ecdh(key: Handle, peer: Uint8Array): Uint8Array {
    const h = this.p.C_DeriveKey(
      this.session,
      { mechanism: CKM_ECDH1_DERIVE, parameter: { type: P.CK_PARAMS_EC_DH, kdf: CKD_NULL, publicData: Buffer.from(peer) } as pkcs11js.ECDH1 },
      key,
      [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
        { type: P.CKA_VALUE_LEN, value: 32 },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_SENSITIVE, value: false },
        { type: P.CKA_EXTRACTABLE, value: true },
      ],
    );
    try {
      return new Uint8Array(this.attr(h, P.CKA_VALUE));
    } finally {
      this.destroy(h);
    }
  }

  close(): void {
    closeQuietly(this.p);
  }
}

function closeQuietly(p: InstanceType<typeof P.PKCS11>): void {
  try {
    p.C_Finalize();
  } catch {
    /* already finalised */
  }
  try {
    p.close();
  } catch {
    /* already closed */
  }
}

