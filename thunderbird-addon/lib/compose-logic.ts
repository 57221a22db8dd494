// What happens on send (compose.onBeforeSend): if sealing was asked for, every
// attachment is replaced by NAME.seal, and the message gets an X-Sealcode header. All
// files are sealed before the message is touched; any failure cancels the send with a
// notice, so plaintext is never sent by accident.
import type { AttachmentInfo, ComposeDetailsLike } from './messenger.js';
import { isSealedName, sealFile, type SealPlan } from './seal-files.js';
import { isGameMovePart } from '../../game/format.js';

export interface ComposeDeps {
  listAttachments(tabId: number): Promise<AttachmentInfo[]>;
  getAttachmentFile(id: number): Promise<File>;
  removeAttachment(tabId: number, id: number): Promise<void>;
  addAttachment(tabId: number, a: { file: File; name?: string }): Promise<unknown>;
  /** null: sealing not asked for this message. Throws when asked for but impossible. */
  plan(tabId: number, details: ComposeDetailsLike): Promise<SealPlan | null>;
  notify(message: string): void;
  /** Measurements and outcomes, for the options page and the test driver. */
  record?(event: SendOutcome): void;
}

export interface SendOutcome {
  tabId: number;
  sealed: boolean;
  cancelled: boolean;
  reason?: string;
  files?: { name: string; size: number; sealedSize: number; ms: number }[];
}

export type BeforeSendResult = { cancel: true } | { details?: Partial<ComposeDetailsLike> };

export const HEADER = 'X-Sealcode';

export async function beforeSend(deps: ComposeDeps, tabId: number, details: ComposeDetailsLike): Promise<BeforeSendResult> {
  try {
    const plan = await deps.plan(tabId, details);
    if (!plan) {
      deps.record?.({ tabId, sealed: false, cancelled: false });
      return {};
    }
    const atts = (await deps.listAttachments(tabId)).filter((a) => !isSealedName(a.name) && !isGameMovePart(a.contentType, a.name));
    const sealed: { att: AttachmentInfo; file: File; ms: number; size: number }[] = [];
    for (const att of atts) {
      const file = await deps.getAttachmentFile(att.id!);
      const t0 = performance.now();
      const out = await sealFile(file, att.name, plan);
      sealed.push({ att, file: out, ms: performance.now() - t0, size: file.size });
    }
    for (const s of sealed) {
      await deps.removeAttachment(tabId, s.att.id!);
      await deps.addAttachment(tabId, { file: s.file, name: s.file.name });
    }
    deps.record?.({
      tabId,
      sealed: true,
      cancelled: false,
      files: sealed.map((s) => ({ name: s.att.name, size: s.size, sealedSize: s.file.size, ms: Math.round(s.ms) })),
    });
    const headers = (details.customHeaders ?? []).filter((h) => h.name.toLowerCase() !== HEADER.toLowerCase());
    headers.push({ name: HEADER, value: `v1; origin=${plan.origin}; files=${sealed.length}${plan.signOnly ? '; sign-only' : ''}` });
    return { details: { customHeaders: headers } };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    deps.notify(reason);
    deps.record?.({ tabId, sealed: false, cancelled: true, reason });
    return { cancel: true };
  }
}
