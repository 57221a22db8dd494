// The container header (docs/FORMAT.md §5), field by field: each rule a reader applies
// gets a body that breaks only that rule, and each limit is tried on both sides.
import { describe, expect, it } from 'vitest';
import { hmac } from '@noble/hashes/hmac.js';
import {
  MAC_LEN,
  MAGIC,
  MAX_HEADER,
  PREFIX_LEN,
  SIGN_ONLY_FILE_KEY,
  Writer,
  checkHeaderMac,
  concat,
  decodeHeader,
  encodeBody,
  encodeHeader,
  hkdf32,
  parsePrefix,
  payloadKey,
  headerMacKey,
  sha256,
  signedDigest,
  utf8,
  type HeaderFields,
  type Stanza,
} from '../../card/index.js';
import type { SealError } from '../../card/errors.js';
import { makeWorld } from '../support/world.js';
import { outcome } from '../support/outcome.js';

const w = makeWorld();
const salt = new Uint8Array(16).fill(5);
const stanza = (kind: Stanza['kind'], label = 'L'): Stanza => ({ kind, label, salt: new Uint8Array(16).fill(1), wrapped: new Uint8Array(48).fill(2) });
const fields = (extra: Partial<HeaderFields> = {}): HeaderFields => ({
  signOnly: false,
  created: 1_700_000_000_000,
  chunkLog2: 16,
  payloadSalt: salt,
  stanzas: [stanza('code', w.serialA)],
  origin: 'card',
  originCert: w.A.certBytes,
  addressees: [],
  ...extra,
});
const fileKey = new Uint8Array(32).fill(9);


/** A header around a hand-written body (the MAC is not checked by decodeHeader). */
const withBody = (body: Uint8Array): Uint8Array =>
  concat(new Writer().raw(MAGIC).u8(1).u32(body.length).done(), body, new Uint8Array(MAC_LEN));

interface Raw {
  suite?: number;
  flags?: number;
  chunkLog2?: number;
  stanzas?: { kind: number; label: string }[];
  stanzaCount?: number;
  origin?: number;
  addressees?: Uint8Array[];
  addresseeCount?: number;
  tail?: Uint8Array;
}
function rawBody(r: Raw = {}): Uint8Array {
  const st = r.stanzas ?? [{ kind: 1, label: w.serialA }];
  const wr = new Writer().u8(r.suite ?? 1).u8(r.flags ?? 0).u64(1_700_000_000_000).u8(r.chunkLog2 ?? 16).raw(salt);
  wr.u8(r.stanzaCount ?? st.length);
  for (const s of st) wr.u8(s.kind).str(s.label).raw(new Uint8Array(16)).raw(new Uint8Array(48));
  const ad = r.addressees ?? [];
  wr.u8(r.origin ?? 1).bytes(w.A.certBytes).u8(r.addresseeCount ?? ad.length);
  for (const a of ad) wr.bytes(a);
  if (r.tail) wr.raw(r.tail);
  return wr.done();
}
const decodeRaw = (r: Raw) => outcome(() => decodeHeader(withBody(rawBody(r))));

describe('encodeHeader', () => {
  it('writes prefix || body || HMAC and decodes back to the same fields', () => {
    const f = fields({ addressees: [w.A.certBytes], stanzas: [stanza('code'), stanza('id'), stanza('group'), stanza('pair')] });
    const h = encodeHeader(f, fileKey);
    const body = encodeBody(f);
    const prefix = new Writer().raw(utf8('SEALCODE')).u8(1).u32(body.length).done();
    expect(Buffer.from(h.bytes).equals(Buffer.concat([prefix, body, h.mac]))).toBe(true);
    expect(Buffer.from(h.mac).equals(Buffer.from(hmac(sha256, hkdf32(fileKey, salt, 'sealcode header mac'), concat(prefix, body))))).toBe(true);
    const d = decodeHeader(h.bytes);
    expect({ ...d, bytes: undefined, mac: undefined }).toEqual({ ...f, bytes: undefined, mac: undefined });
    expect(Buffer.from(d.mac).equals(Buffer.from(h.mac))).toBe(true);
    expect(d.bytes).toBe(h.bytes);
    expect(outcome(() => checkHeaderMac(d, fileKey))).toBe('ok');
  });

  it('the sign-only flag and the dedicated origin round-trip', () => {
    const d = decodeHeader(encodeHeader(fields({ signOnly: true, stanzas: [], origin: 'dedicated' }), SIGN_ONLY_FILE_KEY).bytes);
    expect(d.signOnly).toBe(true);
    expect(d.origin).toBe('dedicated');
    expect(encodeBody(fields({ signOnly: true, stanzas: [] }))[1]).toBe(1);
    expect(encodeBody(fields())[1]).toBe(0);
  });

  it('refuses (USAGE) what a reader would refuse, at each limit and not before', () => {
    const many = (n: number) => Array.from({ length: n }, () => stanza('code'));
    expect(outcome(() => encodeHeader(fields({ stanzas: many(65) }), fileKey))).toBe('USAGE: at most 64 recipients');
    expect(outcome(() => encodeHeader(fields({ stanzas: many(64) }), fileKey))).toBe('ok');
    const cert = new Uint8Array(10);
    expect(outcome(() => encodeHeader(fields({ addressees: Array(17).fill(cert) }), fileKey))).toBe('USAGE: at most 16 addressees');
    expect(outcome(() => encodeHeader(fields({ addressees: Array(16).fill(cert) }), fileKey))).toBe('ok');
    for (const bad of [15, 25, 16.5])
      expect(outcome(() => encodeHeader(fields({ chunkLog2: bad }), fileKey))).toBe('USAGE: chunk size must be 2^16..2^24');
    for (const good of [16, 24]) expect(outcome(() => encodeHeader(fields({ chunkLog2: good }), fileKey))).toBe('ok');
    // Certificates filling the body just past 64 KiB.
    const base = encodeBody(fields()).length;
    const pad = (extra: number) => [new Uint8Array(MAX_HEADER - base - 2 + extra)];
    expect(outcome(() => encodeHeader(fields({ addressees: pad(1) }), fileKey))).toBe('USAGE: header too large (too many or too large certificates)');
    expect(outcome(() => encodeHeader(fields({ addressees: pad(0) }), fileKey))).toBe('ok');
    expect(encodeBody(fields({ addressees: pad(0) })).length).toBe(MAX_HEADER);
  });
});

describe('parsePrefix', () => {
  const prefix = (magic = 'SEALCODE', version = 1, len = 100) => new Writer().raw(utf8(magic)).u8(version).u32(len).done();
  it('reads the body length, up to 64 KiB', () => {
    expect(parsePrefix(prefix())).toBe(100);
    expect(parsePrefix(prefix('SEALCODE', 1, MAX_HEADER))).toBe(MAX_HEADER);
    // A prefix inside a larger buffer: the length is read at its own offset.
    const inner = concat(new Uint8Array(3), prefix('SEALCODE', 1, 0x01020304 & 0xffff)).subarray(3);
    expect(parsePrefix(inner)).toBe(0x0304);
    expect(PREFIX_LEN).toBe(13);
  });
  it('refuses a short prefix, a wrong magic, another version, a body over 64 KiB', () => {
    expect(outcome(() => parsePrefix(prefix().subarray(0, 12)))).toBe('MALFORMED: truncated header');
    expect(outcome(() => parsePrefix(prefix('SEALCODF')))).toBe('MALFORMED: not a sealcode container (bad magic)');
    expect(outcome(() => parsePrefix(prefix('TEALCODE')))).toBe('MALFORMED: not a sealcode container (bad magic)');
    expect(outcome(() => parsePrefix(prefix('SEALCODE', 2)))).toBe('MALFORMED: unsupported container version 2');
    expect(outcome(() => parsePrefix(prefix('SEALCODE', 0)))).toBe('MALFORMED: unsupported container version 0');
    expect(outcome(() => parsePrefix(prefix('SEALCODE', 1, MAX_HEADER + 1)))).toBe('MALFORMED: header length out of range');
  });
  it('marks another kind of file and another version as foreign, a damaged prefix not', () => {
    const foreignOf = (b: Uint8Array): boolean => {
      try {
        parsePrefix(b);
      } catch (e) {
        return (e as SealError).foreign;
      }
      throw new Error('accepted');
    };
    expect([prefix('TEALCODE'), prefix('SEALCODE', 2), prefix('SEALCODE', 0)].map(foreignOf)).toEqual([true, true, true]);
    expect([prefix().subarray(0, 12), prefix('SEALCODE', 1, MAX_HEADER + 1)].map(foreignOf)).toEqual([false, false]);
  });
});

describe('decodeHeader', () => {
  it('accepts the reference body', () => {
    expect(decodeRaw({})).toBe('ok');
  });

  it('the whole header must be there, and nothing more', () => {
    const h = withBody(rawBody());
    expect(outcome(() => decodeHeader(h.subarray(0, h.length - 1)))).toBe('MALFORMED: truncated header');
    expect(outcome(() => decodeHeader(concat(h, new Uint8Array(1))))).toBe('MALFORMED: truncated header');
    expect(decodeRaw({ tail: new Uint8Array([0]) })).toMatch(/^MALFORMED/);
  });

  it('suite 1 only; flags bit 0 only', () => {
    expect(decodeRaw({ suite: 2 })).toBe('MALFORMED: unknown cipher suite');
    expect(decodeRaw({ suite: 0 })).toBe('MALFORMED: unknown cipher suite');
    expect(decodeRaw({ flags: 2 })).toBe('MALFORMED: unknown header flags');
    expect(decodeRaw({ flags: 0x80 })).toBe('MALFORMED: unknown header flags');
  });

  it('sign-only exactly when there are no stanzas', () => {
    expect(decodeRaw({ flags: 1 })).toBe('MALFORMED: sign-only container with recipients');
    expect(decodeRaw({ stanzas: [] })).toBe('MALFORMED: no recipients');
    expect(decodeRaw({ flags: 1, stanzas: [] })).toBe('ok');
  });

  it('chunk sizes 2^16 to 2^24', () => {
    expect(decodeRaw({ chunkLog2: 15 })).toBe('MALFORMED: chunk size out of range');
    expect(decodeRaw({ chunkLog2: 25 })).toBe('MALFORMED: chunk size out of range');
    expect(decodeRaw({ chunkLog2: 16 })).toBe('ok');
    expect(decodeRaw({ chunkLog2: 24 })).toBe('ok');
  });

  it('at most 64 stanzas', () => {
    const st = (n: number) => Array.from({ length: n }, () => ({ kind: 1, label: 'x' }));
    expect(decodeRaw({ stanzas: st(64) })).toBe('ok');
    expect(decodeRaw({ stanzas: st(65) })).toBe('MALFORMED: too many recipient stanzas');
  });

  it('stanza kinds 1-4 are code, id, group, pair; 0 and 5 are MALFORMED', () => {
    const d = decodeHeader(withBody(rawBody({ stanzas: [1, 2, 3, 4].map((kind) => ({ kind, label: `k${kind}` })) })));
    expect(d.stanzas.map((s) => [s.kind, s.label])).toEqual([['code', 'k1'], ['id', 'k2'], ['group', 'k3'], ['pair', 'k4']]);
    expect(d.stanzas[0]!.salt).toHaveLength(16);
    expect(d.stanzas[0]!.wrapped).toHaveLength(48);
    expect(decodeRaw({ stanzas: [{ kind: 0, label: 'x' }] })).toBe('MALFORMED: unknown stanza kind');
    expect(decodeRaw({ stanzas: [{ kind: 5, label: 'x' }] })).toBe('MALFORMED: unknown stanza kind');
  });

  it('origin 1 is a card, 2 a dedicated build; 0 and 3 are MALFORMED', () => {
    expect(decodeHeader(withBody(rawBody({ origin: 1 }))).origin).toBe('card');
    expect(decodeHeader(withBody(rawBody({ origin: 2 }))).origin).toBe('dedicated');
    expect(decodeRaw({ origin: 0 })).toBe('MALFORMED: unknown origin kind');
    expect(decodeRaw({ origin: 3 })).toBe('MALFORMED: unknown origin kind');
  });

  it('at most 16 addressees, each kept as given', () => {
    const ad = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array([i]));
    expect(decodeHeader(withBody(rawBody({ addressees: ad(16) }))).addressees).toEqual(ad(16));
    expect(decodeRaw({ addressees: ad(17) })).toBe('MALFORMED: too many addressees');
  });

  it('the fields are read at their places', () => {
    const d = decodeHeader(withBody(rawBody({ chunkLog2: 20 })));
    expect(d.created).toBe(1_700_000_000_000);
    expect(d.chunkLog2).toBe(20);
    expect(d.payloadSalt).toEqual(salt);
    expect(d.originCert).toEqual(w.A.certBytes);
    expect(d.signOnly).toBe(false);
    expect(d.mac).toEqual(new Uint8Array(MAC_LEN));
  });
});

describe('header MAC and derived keys', () => {
  const h = encodeHeader(fields(), fileKey);
  it('a wrong file key or a changed MAC is TAMPERED', () => {
    expect(outcome(() => checkHeaderMac(decodeHeader(h.bytes), new Uint8Array(32)))).toBe('TAMPERED: header MAC does not verify');
    const bad = h.bytes.slice();
    bad[bad.length - 1]! ^= 1;
    expect(outcome(() => checkHeaderMac(decodeHeader(bad), fileKey))).toBe('TAMPERED: header MAC does not verify');
    // A changed body byte under the right key.
    const body = h.bytes.slice();
    body[PREFIX_LEN + 11]! ^= 1; // a payload salt byte
    expect(outcome(() => checkHeaderMac(decodeHeader(body), fileKey))).toBe('TAMPERED: header MAC does not verify');
  });

  it('the MAC, payload and signature inputs use their own labels', () => {
    expect(headerMacKey(fileKey, salt)).toEqual(hkdf32(fileKey, salt, 'sealcode header mac'));
    expect(payloadKey(fileKey, salt)).toEqual(hkdf32(fileKey, salt, 'sealcode payload'));
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    expect(signedDigest(a, b)).toEqual(sha256(concat(utf8('sealcode sig v1\0'), a, b)));
  });
});
