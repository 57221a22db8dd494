// Opening and keyless verification (docs/FORMAT.md §5-6). Order matters: nothing is
// judged on bytes that are not yet authenticated, so a changed byte is always reported
// as TAMPERED, never as a policy refusal.
import { Reader } from '../bytes.js';
import { decodeCert, verifyCert, type Cert } from '../certs.js';
import { SealError, malformed, tampered } from '../errors.js';
import type { Party } from '../party.js';
import { certify, type Verdict } from '../policy.js';
import type { StatusList } from '../status.js';
import { verify as edVerify } from '../keys.js';
import { TAG_LEN, chunkNonce, type ChunkCipher } from './aead.js';
import {
  MAC_LEN,
  PREFIX_LEN,
  SIGN_ONLY_FILE_KEY,
  SIG_LEN,
  checkHeaderMac,
  decodeHeader,
  parsePrefix,
  payloadKey,
  signedDigest,
  type Header,
} from './header.js';
import { parseMetaBlock, type FileMeta } from './meta.js';
import { finish, webPrimitives, type Primitives } from './primitives.js';
import { SourceReader, type SealInput } from './source.js';

export interface OpenOptions {
  issuerPub: Uint8Array;
  now?: number;
  status?: StatusList;
  primitives?: Primitives;
  /**
   * Recycle content buffers: each chunk of `content` may be overwritten once the
   * consumer has pulled two more (see SealOptions.reuseBuffers).
   */
  reuseBuffers?: boolean;
  /** The container's length, when known: lets a platform pick its payload hash (Primitives.sha256Bulk). */
  sizeHint?: number;
}

const RING = 3;

export async function readHeader(r: SourceReader): Promise<Header> {
  // A copy: the next read may reuse the reader's buffer.
  const prefix = (await r.readExactly(PREFIX_LEN, 'header')).slice();
  const bodyLen = parsePrefix(prefix);
  const rest = await r.readExactly(bodyLen + MAC_LEN, 'header');
  const bytes = new Uint8Array(PREFIX_LEN + bodyLen + MAC_LEN);
  bytes.set(prefix);
  bytes.set(rest, PREFIX_LEN);
  return decodeHeader(bytes);
}

/** Raw payload chunks with the trailer held back; onSig gets it before the last chunk is yielded. */
async function* payloadChunks(r: SourceReader, h: Header, onSig: (sig: Uint8Array) => void): AsyncGenerator<{ data: Uint8Array; last: boolean }> {
  const full = (1 << h.chunkLog2) + (h.signOnly ? 0 : TAG_LEN);
  const min = h.signOnly ? 1 : TAG_LEN + 1;
  for (;;) {
    await r.fill(full + SIG_LEN + 1);
    if (r.available > full + SIG_LEN) {
      yield { data: r.take(full), last: false };
      continue;
    }
    const n = r.available - SIG_LEN;
    if (n < min) throw tampered('truncated payload');
    const data = r.take(n);
    onSig(r.take(SIG_LEN));
    yield { data, last: true };
    return;
  }
}

export function checkSignature(origin: Cert, headerHash: Uint8Array, payloadHash: Uint8Array, sig: Uint8Array): void {
  if (!edVerify(origin.signPub, signedDigest(headerHash, payloadHash), sig))
    throw tampered("the sender's signature does not verify");
}

const hashOf = (p: Primitives, b: Uint8Array): Uint8Array | Promise<Uint8Array> => {
  const h = p.sha256();
  h.update(b);
  return finish(h);
};

const payloadHasher = (prim: Primitives, sizeHint?: number) => prim.sha256Bulk?.(sizeHint ?? 0) ?? prim.sha256();

/** Reads the rest of the container and checks the sender's signature over all of it. */
async function checkWhole(r: SourceReader, header: Header, origin: Cert, prim: Primitives, sizeHint?: number): Promise<void> {
  const ph = payloadHasher(prim, sizeHint);
  let sig: Uint8Array | undefined;
  for await (const c of payloadChunks(r, header, (s) => (sig = s))) ph.update(c.data);
  checkSignature(origin, await hashOf(prim, header.bytes), await finish(ph), sig!);
}

// Addressees steer the keyless verdict, so only issuer-signed ones count: an unsigned
// certificate naming a friendly group would otherwise buy a "certified" label.
const decodeAddressees = (h: Header, issuerPub: Uint8Array): Cert[] => h.addressees.map((a) => verifyCert(a, issuerPub).cert);

export interface VerifyResult {
  header: Header;
  verdict: Verdict;
  addressees: Cert[];
}

/**
 * Keyless certification, as a gateway does it: certificate chain, the signature over
 * the whole container, then the policy against the addressed parties.
 */
export async function verifySealed(input: SealInput, o: OpenOptions): Promise<VerifyResult> {
  const prim = o.primitives ?? webPrimitives;
  const r = new SourceReader(input);
  try {
    const header = await readHeader(r);
    const origin = verifyCert(header.originCert, o.issuerPub).cert;
    const addressees = decodeAddressees(header, o.issuerPub);
    await checkWhole(r, header, origin, prim, o.sizeHint);
    const verdict = certify({
      origin,
      originKind: header.origin,
      stanzas: header.stanzas,
      created: header.created,
      now: o.now ?? Date.now(),
      addressees,
      status: o.status,
    });
    return { header, verdict, addressees };
  } finally {
    await r.close();
  }
}

export interface Opened {
  header: Header;
  verdict: Verdict;
  meta: FileMeta;
  /**
   * The plaintext, chunk by chunk. Each chunk is authenticated, but the whole is
   * certified only when the iterator finishes without throwing: callers must hold the
   * output back (temporary file, memory) and discard it on an error.
   */
  content: AsyncGenerator<Uint8Array>;
}

export interface OpenAsOptions extends OpenOptions {
  receiver: Party;
}

function refusal(v: Verdict): SealError {
  return new SealError(v.code ?? 'REFUSED', `not certified: ${v.reason} (sealed by ${v.sealedBy})`);
}

export interface Admitted {
  fileKey: Uint8Array;
  origin: Cert;
  verdict: Verdict;
}

/**
 * Everything decided before the first payload byte: the file key, the header MAC, the
 * certificates and the policy (shared with the Node file path). `checkRest` reads the
 * rest of the container and verifies the sender's signature; it runs only before a
 * refusal, so that a changed byte reads as TAMPERED rather than as a refusal.
 */
export async function admit(header: Header, o: OpenAsOptions, checkRest: (origin: Cert) => Promise<void>): Promise<Admitted> {
  const now = o.now ?? Date.now();
  let fileKey: Uint8Array;
  if (header.signOnly) fileKey = SIGN_ONLY_FILE_KEY;
  else {
    const got = await o.receiver.unwrap(header.stanzas);
    if (!got) {
      // Only claim "not for us" about an authentic container; a changed byte in a
      // stanza also makes it unopenable, and that must read as tampering.
      await checkRest(verifyCert(header.originCert, o.issuerPub).cert);
      throw new SealError('NOT_FOR_US', 'this container was not sealed for this card or build');
    }
    fileKey = got.fileKey;
  }
  checkHeaderMac(header, fileKey);
  const origin = verifyCert(header.originCert, o.issuerPub).cert;
  // As strict as the keyless verifier: an addressee that is not issuer-signed makes
  // the container TAMPERED for everyone, not only for gateways.
  decodeAddressees(header, o.issuerPub);
  const self = decodeCert(o.receiver.certificate);
  const verdict = certify({
    origin,
    originKind: header.origin,
    stanzas: header.stanzas,
    created: header.created,
    now,
    receiver: self,
    status: o.status,
  });
  if (!verdict.certified) {
    // The header MAC binds the header only to holders of the file key (anyone, when
    // sign-only); a refusal is reported only once the sender's signature holds.
    await checkRest(origin);
    throw refusal(verdict);
  }
  return { fileKey, origin, verdict };
}

/** Opens a container as `receiver`: certify first, then decrypt. */
export async function openSealed(input: SealInput, o: OpenAsOptions): Promise<Opened> {
  const prim = o.primitives ?? webPrimitives;
  const r = new SourceReader(input);
  let handedOff = false;
  try {
    const header = await readHeader(r);
    const { fileKey, origin, verdict } = await admit(header, o, (origin) => checkWhole(r, header, origin, prim, o.sizeHint));
    const cipher = header.signOnly ? null : await prim.cipher(payloadKey(fileKey, header.payloadSalt));
    const chunks = decryptChunks(r, header, cipher, prim, origin, o.reuseBuffers ?? false, o.sizeHint);
    const meta = await readMeta(chunks);
    handedOff = true;
    return { header, verdict, meta: meta.meta, content: contentOf(chunks, meta.rest, meta.meta.size, r) };
  } finally {
    if (!handedOff) await r.close();
  }
}

async function* decryptChunks(
  r: SourceReader,
  h: Header,
  cipher: ChunkCipher | null,
  prim: Primitives,
  origin: Cert,
  reuse: boolean,
  sizeHint?: number,
): AsyncGenerator<Uint8Array> {
  const ph = payloadHasher(prim, sizeHint);
  let sig: Uint8Array | undefined;
  let counter = 0;
  const ring = reuse && cipher?.openInto ? Array.from({ length: RING }, () => new Uint8Array(1 << h.chunkLog2)) : null;
  for await (const c of payloadChunks(r, h, (s) => (sig = s))) {
    ph.update(c.data);
    let pt: Uint8Array;
    // Sign-only chunks are the input bytes: copied when the reader will reuse them.
    if (!cipher) pt = r.volatileViews ? c.data.slice() : c.data;
    else {
      try {
        const nonce = chunkNonce(counter, c.last);
        if (ring) {
          if (c.data.length < TAG_LEN) throw new Error('short chunk');
          pt = ring[counter % RING]!.subarray(0, c.data.length - TAG_LEN);
          cipher.openInto!(nonce, c.data, pt);
        } else pt = await cipher.open(nonce, c.data);
      } catch {
        throw tampered(`payload chunk ${counter} does not authenticate (changed, truncated or reordered)`);
      }
    }
    counter++;
    if (c.last) checkSignature(origin, await hashOf(prim, h.bytes), await finish(ph), sig!);
    yield pt;
  }
}

/** Pulls chunks until the length-prefixed metadata block is complete. */
async function readMeta(chunks: AsyncGenerator<Uint8Array>): Promise<{ meta: FileMeta; rest: Uint8Array[] }> {
  let all = new Uint8Array(0);
  for (;;) {
    const got = parseMetaBlock(all);
    if (got) return { meta: got.meta, rest: [all.subarray(got.used)] };
    const c = await chunks.next();
    if (c.done) throw malformed('payload ends inside the metadata block');
    const more = new Uint8Array(all.length + c.value.length);
    more.set(all);
    more.set(c.value, all.length);
    all = more;
  }
}

async function* contentOf(chunks: AsyncGenerator<Uint8Array>, rest: Uint8Array[], size: number, r: SourceReader): AsyncGenerator<Uint8Array> {
  let seen = 0;
  // Checked before each piece is handed on, so no byte past `size` is ever released.
  const counted = (b: Uint8Array): Uint8Array => {
    seen += b.length;
    if (seen > size) throw malformed('payload is longer than its stated size');
    return b;
  };
  try {
    for (const b of rest) if (counted(b).length) yield b;
    for await (const c of chunks) yield counted(c);
    if (seen < size) throw malformed('payload is shorter than its stated size');
  } finally {
    await r.close();
  }
}
