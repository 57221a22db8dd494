// The container header (docs/FORMAT.md §5): what a receiver and a gateway read before
// any payload byte, and everything the trailer signature covers besides the payload.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Reader, Writer, concat, equalBytes, utf8 } from '../bytes.js';
import { SealError, foreignFormat, malformed, tampered } from '../errors.js';
import { hkdf32 } from '../keys.js';
import { STANZA_KIND_BYTE, STANZA_KINDS, type Stanza } from '../stanza.js';

export const MAGIC = utf8('SEALCODE');
export const VERSION = 1;
export const SUITE_AES256GCM = 1;
export const FLAG_SIGN_ONLY = 1;
export const MAX_HEADER = 64 * 1024;
export const MAX_STANZAS = 64;
export const MAX_ADDRESSEES = 16;
export const MIN_CHUNK_LOG2 = 16;
export const MAX_CHUNK_LOG2 = 24;
export const MAC_LEN = 32;
export const SIG_LEN = 64;
/** magic(8) version(1) body-length(4) */
export const PREFIX_LEN = 13;

export type OriginKind = 'card' | 'dedicated';

export interface HeaderFields {
  signOnly: boolean;
  created: number; // ms since epoch
  chunkLog2: number;
  payloadSalt: Uint8Array; // 16 bytes
  stanzas: Stanza[];
  origin: OriginKind;
  originCert: Uint8Array;
  addressees: Uint8Array[]; // certificates of the parties the sender meant, when it knew them
}

export interface Header extends HeaderFields {
  /** The header's exact bytes, magic through MAC: hashed for the trailer signature. */
  bytes: Uint8Array;
  mac: Uint8Array;
}

export function encodeBody(h: HeaderFields): Uint8Array {
  const w = new Writer().u8(SUITE_AES256GCM).u8(h.signOnly ? FLAG_SIGN_ONLY : 0).u64(h.created).u8(h.chunkLog2);
  w.raw(h.payloadSalt).u8(h.stanzas.length);
  for (const s of h.stanzas) w.u8(STANZA_KIND_BYTE[s.kind]).str(s.label).raw(s.salt).raw(s.wrapped);
  w.u8(h.origin === 'card' ? 1 : 2).bytes(h.originCert).u8(h.addressees.length);
  for (const a of h.addressees) w.bytes(a);
  return w.done();
}

export function headerMacKey(fileKey: Uint8Array, payloadSalt: Uint8Array): Uint8Array {
  return hkdf32(fileKey, payloadSalt, 'sealcode header mac');
}
export function payloadKey(fileKey: Uint8Array, payloadSalt: Uint8Array): Uint8Array {
  return hkdf32(fileKey, payloadSalt, 'sealcode payload');
}

/** Sign-only containers have no file key; the MAC still frames the header. */
export const SIGN_ONLY_FILE_KEY = new Uint8Array(32);

export function encodeHeader(h: HeaderFields, fileKey: Uint8Array): Header {
  // A sealer must never write what decodeHeader would refuse (the u8 counts would wrap).
  if (h.stanzas.length > MAX_STANZAS) throw new SealError('USAGE', `at most ${MAX_STANZAS} recipients`);
  if (h.addressees.length > MAX_ADDRESSEES) throw new SealError('USAGE', `at most ${MAX_ADDRESSEES} addressees`);
  if (h.chunkLog2 < MIN_CHUNK_LOG2 || h.chunkLog2 > MAX_CHUNK_LOG2 || !Number.isInteger(h.chunkLog2))
    throw new SealError('USAGE', `chunk size must be 2^${MIN_CHUNK_LOG2}..2^${MAX_CHUNK_LOG2}`);
  const body = encodeBody(h);
  if (body.length > MAX_HEADER) throw new SealError('USAGE', 'header too large (too many or too large certificates)');
  const prefix = new Writer().raw(MAGIC).u8(VERSION).u32(body.length).done();
  const unmaced = concat(prefix, body);
  const mac = hmac(sha256, headerMacKey(fileKey, h.payloadSalt), unmaced);
  return { ...h, bytes: concat(unmaced, mac), mac };
}

/** Body length from the 13-byte prefix, so a streaming reader knows how much to read. */
export function parsePrefix(prefix: Uint8Array): number {
  if (prefix.length < PREFIX_LEN) throw malformed('truncated header');
  if (!equalBytes(prefix.subarray(0, 8), MAGIC)) throw foreignFormat('not a sealcode container (bad magic)');
  if (prefix[8] !== VERSION) throw foreignFormat(`unsupported container version ${prefix[8]}`);
  const len = new DataView(prefix.buffer, prefix.byteOffset + 9, 4).getUint32(0);
  if (len > MAX_HEADER) throw malformed('header length out of range');
  return len;
}

/** Parses prefix + body + MAC. The MAC is checked later, once a file key is known. */
export function decodeHeader(bytes: Uint8Array): Header {
  const bodyLen = parsePrefix(bytes);
  if (bytes.length !== PREFIX_LEN + bodyLen + MAC_LEN) throw malformed('truncated header');
  const r = new Reader(bytes.subarray(PREFIX_LEN, PREFIX_LEN + bodyLen));
  if (r.u8() !== SUITE_AES256GCM) throw malformed('unknown cipher suite');
  const flags = r.u8();
  if (flags & ~FLAG_SIGN_ONLY) throw malformed('unknown header flags');
  const created = r.u64();
  const chunkLog2 = r.u8();
  if (chunkLog2 < MIN_CHUNK_LOG2 || chunkLog2 > MAX_CHUNK_LOG2) throw malformed('chunk size out of range');
  const payloadSalt = r.raw(16);
  const n = r.u8();
  if (n > MAX_STANZAS) throw malformed('too many recipient stanzas');
  const stanzas: Stanza[] = [];
  for (let i = 0; i < n; i++) {
    const k = r.u8();
    const kind = STANZA_KINDS[k - 1];
    if (!kind) throw malformed('unknown stanza kind');
    stanzas.push({ kind, label: r.str(), salt: r.raw(16), wrapped: r.raw(48) });
  }
  const o = r.u8();
  if (o !== 1 && o !== 2) throw malformed('unknown origin kind');
  const originCert = r.bytes();
  const na = r.u8();
  if (na > MAX_ADDRESSEES) throw malformed('too many addressees');
  const addressees: Uint8Array[] = [];
  for (let i = 0; i < na; i++) addressees.push(r.bytes());
  r.end();
  const signOnly = (flags & FLAG_SIGN_ONLY) !== 0;
  if (signOnly !== (n === 0)) throw malformed(signOnly ? 'sign-only container with recipients' : 'no recipients');
  return {
    signOnly,
    created,
    chunkLog2,
    payloadSalt,
    stanzas,
    origin: o === 1 ? 'card' : 'dedicated',
    originCert,
    addressees,
    bytes,
    mac: bytes.subarray(bytes.length - MAC_LEN),
  };
}

export function checkHeaderMac(h: Header, fileKey: Uint8Array): void {
  const expect = hmac(sha256, headerMacKey(fileKey, h.payloadSalt), h.bytes.subarray(0, h.bytes.length - MAC_LEN));
  if (!equalBytes(expect, h.mac)) throw tampered('header MAC does not verify');
}

const SIG_CONTEXT = utf8('sealcode sig v1\0');
/** What the trailer signs: the header and the whole payload, by hash. */
export const signedDigest = (headerHash: Uint8Array, payloadHash: Uint8Array): Uint8Array =>
  sha256(concat(SIG_CONTEXT, headerHash, payloadHash));
