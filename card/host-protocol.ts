// The card over a pipe (native messaging): the one schema of what the add-on asks the
// `sealcode card host` and what comes back. The card behaves as a hardware token: it
// wraps and unwraps file keys and signs digests; bulk encryption stays with the caller,
// so no message comes near the 1 MiB native-messaging cap. Pure: both the host (Node)
// and the add-on bundle use it. Binary fields travel as base64.
import { fromBase64, fromUtf8, toBase64, utf8 } from './bytes.js';
import { SealError, malformed, type SealErrorCode } from './errors.js';
import type { Party } from './party.js';
import { STANZA_KINDS, type RecipientSpec, type Stanza, type StanzaKind } from './stanza.js';

/** Native-messaging host name (manifest file NAME.json). */
export const HOST_NAME = 'sealcode_card';
/** Every message, both ways, stays under this (Thunderbird caps host → add-on at 1 MiB). */
export const MAX_MESSAGE = 1_000_000;
export const MAX_UNLOCK_MINUTES = 24 * 60;

export type HostRequest =
  | { id: number; op: 'info' }
  /** `passphrase` carries the card's unlock secret: its passphrase, or its token's PIN (HostInfo.secret). */
  | { id: number; op: 'unlock'; passphrase: string; minutes: number }
  | { id: number; op: 'lock' }
  | { id: number; op: 'codes' }
  | { id: number; op: 'wrap'; spec: RecipientSpec; fileKey: string; salt: string }
  | { id: number; op: 'unwrap'; stanzas: WireStanza[] }
  | { id: number; op: 'sign'; digest: string }
  | { id: number; op: 'give'; serial: string; to: string }
  | { id: number; op: 'sync'; distributor?: string };

export type HostOp = HostRequest['op'];

export interface WireStanza {
  kind: StanzaKind;
  label: string;
  salt: string;
  wrapped: string;
}

export interface HostInfo {
  locked: boolean;
  /** Seconds until the card locks itself again; 0 when locked. */
  unlockedFor: number;
  /**
   * What unlocking this card asks for: its passphrase (the secrets are in the card file)
   * or the PIN of the token its secrets live in. Absent when the card file cannot be read.
   */
  secret?: 'passphrase' | 'pin';
  /** A token card: the label of its token (where to look when it is not inserted). */
  tokenLabel?: string;
  /** Public facts, known once the card has been unlocked in this host's life. */
  card?: { cardId: string; name: string; email: string; groupId: string; cert: string; issuerPublicKey: string; distributorUrl?: string };
}

export interface HostCode {
  serial: string;
  code: string;
  state: string;
  givenTo?: string;
}

/** The card's code states after a refresh from the distributor, and what changed. */
export interface HostSync {
  distributor: string;
  at: number;
  changed: { serial: string; from: string; to: string }[];
  codes: { serial: string; state: string; givenTo?: string }[];
}

export interface HostPair {
  pairId: string;
  peerCardId: string;
}

export interface HostResults {
  info: HostInfo;
  unlock: HostInfo;
  lock: HostInfo;
  codes: { codes: HostCode[]; distributorUrl?: string; groupId?: string; pairs?: HostPair[] };
  /** The code as the card file now records it. */
  give: { code: HostCode; changed: boolean };
  sync: HostSync;
  wrap: { stanza: WireStanza };
  unwrap: { fileKey: string; index: number } | null;
  sign: { sig: string };
}

export type HostResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: SealErrorCode | HostOnlyCode; message: string } };

/** Error codes only the host gives: the card is locked, a token's PIN was wrong or is locked out, the token is missing. */
export type HostOnlyCode = 'LOCKED' | 'ERROR' | 'BAD_PIN' | 'PIN_LOCKED' | 'NO_TOKEN';

export const toWire = (s: Stanza): WireStanza => ({ kind: s.kind, label: s.label, salt: toBase64(s.salt), wrapped: toBase64(s.wrapped) });
export const fromWire = (s: WireStanza): Stanza => ({ kind: s.kind, label: s.label, salt: fromBase64(s.salt), wrapped: fromBase64(s.wrapped) });

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str = (o: Record<string, unknown>, k: string, max = 4096): string => {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) throw malformed(`host request: ${k} must be a string`);
  return v;
};
const b64 = (o: Record<string, unknown>, k: string, len: number): string => {
  const v = str(o, k, 128);
  if (fromBase64(v).length !== len) throw malformed(`host request: ${k} must be ${len} bytes`);
  return v;
};
const kind = (v: unknown): StanzaKind => {
  if (!STANZA_KINDS.includes(v as StanzaKind)) throw malformed('host request: unknown stanza kind');
  return v as StanzaKind;
};

function wireStanza(x: unknown): WireStanza {
  if (!isObj(x)) throw malformed('host request: stanza must be an object');
  return { kind: kind(x.kind), label: str(x, 'label', 256), salt: b64(x, 'salt', 16), wrapped: b64(x, 'wrapped', 48) };
}

/** Validates one decoded request; anything off is MALFORMED, never a crash. */
export function parseRequest(x: unknown): HostRequest {
  if (!isObj(x)) throw malformed('host request must be an object');
  const id = x.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw malformed('host request: id must be a non-negative integer');
  switch (x.op) {
    case 'info':
    case 'lock':
    case 'codes':
      return { id, op: x.op };
    case 'unlock': {
      const minutes = x.minutes ?? 15;
      if (typeof minutes !== 'number' || !(minutes > 0) || minutes > MAX_UNLOCK_MINUTES)
        throw malformed(`host request: minutes must be in (0, ${MAX_UNLOCK_MINUTES}]`);
      return { id, op: 'unlock', passphrase: str(x, 'passphrase', 1024), minutes };
    }
    case 'wrap': {
      if (!isObj(x.spec)) throw malformed('host request: spec must be an object');
      return { id, op: 'wrap', spec: { kind: kind(x.spec.kind), label: str(x.spec, 'label', 256) }, fileKey: b64(x, 'fileKey', 32), salt: b64(x, 'salt', 16) };
    }
    case 'unwrap': {
      if (!Array.isArray(x.stanzas) || x.stanzas.length > 64) throw malformed('host request: stanzas must be an array of at most 64');
      return { id, op: 'unwrap', stanzas: x.stanzas.map(wireStanza) };
    }
    case 'sign':
      return { id, op: 'sign', digest: b64(x, 'digest', 32) };
    case 'give': {
      const to = str(x, 'to', 320);
      if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to)) throw malformed('host request: to must be one mail address');
      return { id, op: 'give', serial: str(x, 'serial', 64), to };
    }
    case 'sync':
      return x.distributor === undefined ? { id, op: 'sync' } : { id, op: 'sync', distributor: str(x, 'distributor', 2048) };
    default:
      throw malformed('host request: unknown op');
  }
}

// ---- framing: 4-byte little-endian length, then UTF-8 JSON (the native-messaging wire) ----

export function encodeFrame(msg: unknown): Uint8Array {
  const body = utf8(JSON.stringify(msg));
  if (body.length > MAX_MESSAGE) throw new SealError('USAGE', `host message of ${body.length} bytes exceeds ${MAX_MESSAGE}`);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/** Splits a byte stream into decoded JSON messages; an oversized or non-JSON frame is MALFORMED. */
export class FrameDecoder {
  private buf = new Uint8Array(0);
  push(chunk: Uint8Array): unknown[] {
    const all = new Uint8Array(this.buf.length + chunk.length);
    all.set(this.buf);
    all.set(chunk, this.buf.length);
    const out: unknown[] = [];
    let off = 0;
    while (all.length - off >= 4) {
      const len = new DataView(all.buffer, all.byteOffset + off, 4).getUint32(0, true);
      if (len > MAX_MESSAGE) throw malformed(`host frame of ${len} bytes exceeds ${MAX_MESSAGE}`);
      if (all.length - off - 4 < len) break;
      const body = all.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      try {
        out.push(JSON.parse(fromUtf8(body)));
      } catch {
        throw malformed('host frame is not JSON');
      }
    }
    this.buf = all.slice(off);
    return out;
  }
  get pending(): number {
    return this.buf.length;
  }
}

// ---- the caller's side: a Party whose keys live behind the host ----

export type HostCall = <O extends HostOp>(op: O, args?: Record<string, unknown>) => Promise<HostResults[O]>;

export class HostError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

/** Turns a host error answer into the error a local party would have thrown. */
export function errorOf(e: { code: string; message: string }): Error {
  const codes: string[] = ['MALFORMED', 'TAMPERED', 'REFUSED', 'EXPIRED', 'REVOKED', 'NOT_FOR_US', 'BAD_CODE', 'BAD_PASSPHRASE', 'USAGE'];
  return codes.includes(e.code) ? new SealError(e.code as SealErrorCode, e.message) : new HostError(e.code, e.message);
}

/** The card as a Party through the host; `cert` from an earlier info/unlock. */
export function remoteParty(call: HostCall, cert: Uint8Array): Party {
  return {
    kind: 'card',
    certificate: cert,
    async wrap(spec, fileKey, salt) {
      const r = await call('wrap', { spec: { kind: spec.kind, label: spec.label }, fileKey: toBase64(fileKey), salt: toBase64(salt) });
      return fromWire(r.stanza);
    },
    async unwrap(stanzas) {
      const r = await call('unwrap', { stanzas: stanzas.map(toWire) });
      return r ? { fileKey: fromBase64(r.fileKey), index: r.index } : null;
    },
    async sign(digest) {
      return fromBase64((await call('sign', { digest: toBase64(digest) })).sig);
    },
  };
}
