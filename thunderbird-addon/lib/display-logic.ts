// Judging one .seal attachment for the verdict banner. With keys (a dedicated build, or
// an unlocked card) the container is certified and decrypted in one pass; the plaintext
// streams into a disk-backed Blob, which exists (and is handed out) only once the last
// chunk and the signature verified; on any failure it is dropped unseen.
// Without keys (a locked card) the origin is still certified keylessly.
import { openSealed, verifySealed } from '../../card/container/open.js';
import { addonPrimitives } from './primitives.js';
import { describeCert } from '../../card/certs.js';
import { isSealError } from '../../card/errors.js';
import type { Party } from '../../card/party.js';
import type { StatusList } from '../../card/status.js';
import { blobSource, streamToBlob } from './bytes.js';
import { UNREADABLE, originOf, type OriginFacts, type TextKind } from './verdict-text.js';

export type VerdictKind = TextKind;

export interface VerdictView {
  attachment: string;
  partName?: string;
  kind: VerdictKind;
  /** Who sealed it (from its authentic certificate), when known. */
  sealedBy?: string;
  origin?: 'card' | 'dedicated';
  /** The sealer's certificate in people's terms (name, email, id). */
  originFacts?: OriginFacts;
  /** Keyless: whether the origin passed the policy (for not-for-us and locked). */
  originCertified?: boolean;
  /** REFUSED / EXPIRED / REVOKED for a refusal. */
  code?: string;
  /** Whom the container is sealed for (kind and label of each stanza). */
  recipients?: string[];
  /** The mail's From, added by the background for the banner. */
  sender?: string;
  /** revoked-self: what was revoked, the purchaser's card or this dedicated add-on. */
  self?: 'card' | 'build';
  /** Answered from the storage.session cache. */
  cached?: boolean;
  reason: string;
  /** Name and size of the decrypted file, when it opened. */
  file?: { name: string; type: string; size: number };
  ms?: number;
}

export interface Judged {
  view: VerdictView;
  content?: File;
}

export interface JudgeOptions {
  party: Party | null;
  issuerPub: Uint8Array;
  /** The distributor's verified status list, when one is known. */
  status?: StatusList;
  now?: number;
}

type Keyless = Partial<Pick<VerdictView, 'sealedBy' | 'origin' | 'originFacts' | 'code' | 'recipients'>> & { reason?: string; certified?: boolean; kind?: VerdictKind };


/** Keyless look, for what to say when we cannot (or may not) open. */
async function keyless(blob: Blob, o: JudgeOptions): Promise<Keyless> {
  try {
    const v = await verifySealed(blobSource(blob), { issuerPub: o.issuerPub, status: o.status, now: o.now, sizeHint: blob.size, primitives: await addonPrimitives() });
    return {
      sealedBy: v.verdict.sealedBy,
      origin: v.header.origin,
      originFacts: originOf(v.verdict.origin),
      reason: v.verdict.reason,
      certified: v.verdict.certified,
      ...(v.verdict.code ? { code: v.verdict.code } : {}),
      recipients: v.header.stanzas.map((s) => `${s.kind} ${s.label}`),
    };
  } catch (e) {
    if (isSealError(e, 'TAMPERED')) return { kind: 'tampered', reason: e.message };
    if (isSealError(e, 'MALFORMED')) return e.foreign ? { kind: 'error', code: UNREADABLE, reason: e.message } : { kind: 'damaged', reason: e.message };
    return { reason: e instanceof Error ? e.message : String(e) };
  }
}

export async function judge(blob: Blob, attachment: string, o: JudgeOptions): Promise<Judged> {
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  if (!o.party) {
    const k = await keyless(blob, o);
    if (k.kind) return { view: { attachment, kind: k.kind, ...(k.code ? { code: k.code } : {}), reason: k.reason ?? '', ms: ms() } };
    // A refusal needs no keys to be said: only a certified origin waits for the unlock.
    const { certified, ...facts } = k;
    return { view: { attachment, ...facts, kind: certified ? 'locked' : certified === false ? 'refused' : 'error', originCertified: certified, reason: k.reason ?? 'the card is locked', ms: ms() } };
  }
  try {
    const opened = await openSealed(blobSource(blob), { receiver: o.party, issuerPub: o.issuerPub, status: o.status, now: o.now, sizeHint: blob.size, primitives: await addonPrimitives() });
    // Provisional until the iterator finishes: the Blob resolves only then, and a throw
    // from the last chunk (signature) rejects it, so no partial plaintext leaves here.
    const type = opened.meta.type || 'application/octet-stream';
    const plain = await streamToBlob(opened.content, type);
    const size = plain.size;
    const content = new File([plain], opened.meta.name, { type });
    return {
      view: {
        attachment,
        kind: 'certified',
        sealedBy: describeCert(opened.verdict.origin),
        origin: opened.header.origin,
        originFacts: originOf(opened.verdict.origin),
        originCertified: true,
        reason: opened.verdict.reason,
        file: { name: opened.meta.name, type: opened.meta.type, size },
        ms: ms(),
      },
      content,
    };
  } catch (e) {
    if (!isSealError(e)) return { view: { attachment, kind: 'error', reason: e instanceof Error ? e.message : String(e), ms: ms() } };
    switch (e.code) {
      case 'TAMPERED':
        return { view: { attachment, kind: 'tampered', reason: e.message, ms: ms() } };
      case 'MALFORMED':
        if (e.foreign) return { view: { attachment, kind: 'error', code: UNREADABLE, reason: e.message, ms: ms() } };
        return { view: { attachment, kind: 'damaged', reason: e.message, ms: ms() } };
      case 'NOT_FOR_US': {
        const k = await keyless(blob, o);
        const { certified, kind: _kind, reason: _r, ...facts } = k;
        return { view: { attachment, ...facts, kind: 'not-for-us', originCertified: certified, reason: e.message, ms: ms() } };
      }
      default: {
        const k = await keyless(blob, o);
        // The banner says "Not certified" itself; keep the reason only.
        const reason = e.message.replace(/^not certified:\s*/i, '');
        const { certified: _c, kind: _kind, reason: _r, ...facts } = k;
        return { view: { attachment, ...facts, code: e.code, kind: 'refused', reason, ms: ms() } };
      }
    }
  }
}
