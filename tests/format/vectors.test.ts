// The test vectors of docs/FORMAT.md, both ways: each recorded container opens and
// verifies as described, and sealing again with the recorded randomness and time
// gives the same bytes. Reads only the JSON files, never the generator.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkChars,
  codeKey,
  decodeCert,
  decodeHeader,
  fromHex,
  groupStanzaKey,
  headerMacKey,
  idKey,
  isSealError,
  normalize,
  parseCode,
  payloadKey,
  seal,
  secretHash,
  sha256,
  signedDigest,
  toHex,
  verifyCert,
  verifyStatus,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { chunksOf, collect } from '../support/world.js';
import { partiesOf, resealOptions, type ContainerVector, type VectorKeys } from '../vectors/parties.js';
import { openSealed, verifySealed } from '../../card/index.js';

const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
const keys = load<VectorKeys>('keys.json');
const { vectors } = load<{ vectors: ContainerVector[] }>('containers.json');
const parties = partiesOf(keys);
const issuerPub = fromHex(keys.issuer.public);

describe('container vectors', () => {
  it('covers every kind the spec names', () => {
    expect(vectors.map((v) => v.name).sort()).toEqual(['card-origin', 'dedicated-origin', 'group', 'multi-recipient', 'sign-only']);
  });

  for (const v of vectors) {
    describe(v.name, () => {
      const bytes = fromHex(v.container);
      const plaintext = fromHex(v.plaintext);

      it('re-seals to the same bytes with the recorded randomness and time', async () => {
        const again = await collect(
          seal(chunksOf(plaintext, 5000), {
            ...resealOptions(v, parties),
            primitives: nodePrimitives,
          }),
        );
        expect(toHex(again)).toBe(v.container);
      });

      it('has the recorded derived values', () => {
        const d = v.derived;
        const h = decodeHeader(fromHex(d.header!));
        expect(toHex(bytes.subarray(0, h.bytes.length))).toBe(d.header);
        expect(toHex(h.payloadSalt)).toBe(d.payloadSalt);
        expect(h.signOnly).toBe(v.signOnly);
        expect(h.chunkLog2).toBe(v.chunkLog2);
        expect(h.created).toBe(v.now);
        expect(h.stanzas.map((s) => ({ kind: s.kind, label: s.label }))).toEqual(v.recipients);
        const fk = fromHex(d.fileKey!);
        expect(toHex(payloadKey(fk, h.payloadSalt))).toBe(d.payloadKey);
        expect(toHex(headerMacKey(fk, h.payloadSalt))).toBe(d.headerMacKey);
        const payload = bytes.subarray(h.bytes.length, bytes.length - 64);
        expect(toHex(sha256(h.bytes))).toBe(d.headerHash);
        expect(toHex(sha256(payload))).toBe(d.payloadHash);
        expect(toHex(signedDigest(sha256(h.bytes), sha256(payload)))).toBe(d.signedDigest);
        expect(toHex(bytes.subarray(bytes.length - 64))).toBe(d.signature);
        if (v.signOnly) {
          // Sign-only payload = metadata block || content, in the clear.
          expect(toHex(payload)).toBe(d.metaBlock! + v.plaintext);
          expect(d.fileKey).toBe('00'.repeat(32));
        }
      });

      for (const who of v.openers)
        it(`opens as ${who}, certified`, async () => {
          const o = await openSealed(chunksOf(bytes, 3000), { receiver: parties[who]!, issuerPub, now: v.now, primitives: nodePrimitives });
          expect(o.verdict.certified).toBe(true);
          expect(o.meta).toEqual(v.meta);
          expect(toHex(await collect(o.content))).toBe(v.plaintext);
        });

      for (const who of v.strangers)
        it(`is not for ${who}`, async () => {
          const err = await openSealed(chunksOf(bytes), { receiver: parties[who]!, issuerPub, now: v.now, primitives: nodePrimitives }).then(
            () => null,
            (e: unknown) => e,
          );
          expect(isSealError(err, 'NOT_FOR_US')).toBe(true);
        });

      it('verifies keylessly', async () => {
        const r = await verifySealed(chunksOf(bytes), { issuerPub, now: v.now, primitives: nodePrimitives });
        expect(r.verdict.certified).toBe(v.verdict);
        expect(r.addressees.length).toBe(v.addressees.length);
      });

      it('opens with the WebCrypto primitives too', async () => {
        const o = await openSealed(chunksOf(bytes), { receiver: parties[v.openers[0]!]!, issuerPub, now: v.now });
        expect(toHex(await collect(o.content))).toBe(v.plaintext);
      });
    });
  }
});

describe('code vectors', () => {
  const c = load<{
    codes: { serial: string; secret: string; check: string; text: string; secretHash: string }[];
    normalisation: { input: string; canonical: string }[];
    bad: string[];
    keys: Record<string, unknown> & { groupKey: string; groupId: string; codeKey: { label: string; key: string }; idKey: { label: string; key: string }; groupStanzaKey: { label: string; key: string } };
  }>('codes.json');

  it('check characters, text form and secret hash', () => {
    for (const x of c.codes) {
      expect(checkChars(x.serial + x.secret)).toBe(x.check);
      const p = parseCode(x.text);
      expect([p.serial, p.secret, p.text]).toEqual([x.serial, x.secret, x.text]);
      expect(toHex(secretHash(x.serial, x.secret))).toBe(x.secretHash);
    }
  });

  it('normalisation', () => {
    for (const n of c.normalisation) {
      expect(normalize(n.input)).toBe(n.canonical);
      expect(parseCode(n.input).serial + parseCode(n.input).secret).toBe(n.canonical.slice(0, 26));
    }
  });

  it('bad codes are BAD_CODE', () => {
    for (const b of c.bad) expect(() => parseCode(b)).toThrowError(expect.objectContaining({ code: 'BAD_CODE' }));
  });

  it('key derivation', () => {
    const gk = fromHex(c.keys.groupKey);
    expect(toHex(codeKey(gk, c.keys.codeKey.label))).toBe(c.keys.codeKey.key);
    expect(toHex(idKey(gk, c.keys.idKey.label))).toBe(c.keys.idKey.key);
    expect(toHex(groupStanzaKey(gk, c.keys.groupStanzaKey.label))).toBe(c.keys.groupStanzaKey.key);
    expect(toHex(codeKey(gk, c.keys.codeKey.label))).toBe(keys.builds.D1!.codeKey);
  });
});

describe('certificate vectors', () => {
  const c = load<{ issuerPublic: string; card: { fields: Record<string, unknown>; bytes: string }; build: { fields: Record<string, unknown>; bytes: string } }>(
    'certs.json',
  );
  for (const kind of ['card', 'build'] as const)
    it(`${kind} certificate decodes to its fields and verifies`, () => {
      const bytes = fromHex(c[kind].bytes);
      const cert = decodeCert(bytes);
      const hexed = Object.fromEntries(Object.entries(cert).map(([f, v]) => [f, v instanceof Uint8Array ? toHex(v) : v]));
      expect(hexed).toEqual(c[kind].fields);
      expect(verifyCert(bytes, fromHex(c.issuerPublic)).cert).toEqual(cert);
    });
});

describe('status list vector', () => {
  it('verifies with the issuer key', () => {
    const s = load<{ list: unknown; signed: { body: string; sig: string } }>('status.json');
    expect(verifyStatus(s.signed, issuerPub)).toEqual(s.list);
  });
});
