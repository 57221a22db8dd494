// Judging one .seal attachment for the verdict banner. With keys (a dedicated build, or
// an unlocked card) the container is certified and decrypted in one pass; the plaintext
// is held in memory and handed out only after the last chunk and the signature verified.
// Without keys (a locked card) the origin is still certified keylessly.
import { openSealed, verifySealed } from '../../card/container/open.js';
import { addonPrimitives } from './primitives.js';
import { describeCert } from '../../card/certs.js';
import { isSealError } from '../../card/errors.js';
import type { Party } from '../../card/party.js';
import { blobChunks, collectParts } from './bytes.js';

export type VerdictKind = 'certified' | 'refused' | 'tampered' | 'damaged' | 'not-for-us' | 'locked' | 'error';

export interface VerdictView {
  attachment: string;
  partName?: string;
  kind: VerdictKind;
  /** Who sealed it (from its authentic certificate), when known. */
  sealedBy?: string;
  origin?: 'card' | 'dedicated';
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
  now?: number;
}

/** Keyless look, for what to say when we cannot (or may not) open. */
async function keyless(blob: Blob, o: JudgeOptions): Promise<{ sealedBy?: string; origin?: 'card' | 'dedicated'; reason?: string; certified?: boolean; kind?: VerdictKind }> {
  try {
    const v = await verifySealed(blobChunks(blob), { issuerPub: o.issuerPub, now: o.now, sizeHint: blob.size, primitives: await addonPrimitives() });
    return { sealedBy: v.verdict.sealedBy, origin: v.header.origin, reason: v.verdict.reason, certified: v.verdict.certified };
  } catch (e) {
    if (isSealError(e, 'TAMPERED')) return { kind: 'tampered', reason: e.message };
    if (isSealError(e, 'MALFORMED')) return { kind: 'damaged', reason: e.message };
    return {};
  }
}

export async function judge(blob: Blob, attachment: string, o: JudgeOptions): Promise<Judged> {
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  if (!o.party) {
    const k = await keyless(blob, o);
    if (k.kind) return { view: { attachment, kind: k.kind, reason: k.reason ?? '', ms: ms() } };
    return { view: { attachment, kind: 'locked', sealedBy: k.sealedBy, origin: k.origin, reason: k.reason ?? 'the card is locked', ms: ms() } };
  }
  try {
    const opened = await openSealed(blobChunks(blob), { receiver: o.party, issuerPub: o.issuerPub, now: o.now, sizeHint: blob.size, primitives: await addonPrimitives() });
    // Provisional until the iterator finishes: nothing leaves this function before then.
    const { parts, size } = await collectParts(opened.content);
    const content = new File(parts as BlobPart[], opened.meta.name, { type: opened.meta.type || 'application/octet-stream' });
    return {
      view: {
        attachment,
        kind: 'certified',
        sealedBy: describeCert(opened.verdict.origin),
        origin: opened.header.origin,
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
        return { view: { attachment, kind: 'damaged', reason: e.message, ms: ms() } };
      case 'NOT_FOR_US': {
        const k = await keyless(blob, o);
        return { view: { attachment, kind: 'not-for-us', sealedBy: k.sealedBy, origin: k.origin, reason: e.message, ms: ms() } };
      }
      default: {
        const k = await keyless(blob, o);
        // The banner says "Not certified" itself; keep the reason only.
        const reason = e.message.replace(/^not certified:\s*/i, '');
        return { view: { attachment, kind: 'refused', sealedBy: k.sealedBy, origin: k.origin, reason, ms: ms() } };
      }
    }
  }
}
