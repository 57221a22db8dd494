// What the CLI says about a sealed container: who sealed it, with what, for whom, and
// the verdict. One shape for `verify --json` and the decrypt commands' --json.
import path from 'node:path';
import type { Cert } from '../card/certs.js';
import { describeCert } from '../card/certs.js';
import type { Header } from '../card/container/header.js';
import type { Verdict } from '../card/policy.js';
import type { FileMeta } from '../card/container/meta.js';
import { print, termSafe } from './output.js';
import { UNREADABLE, verdictText, type OriginFacts } from '../thunderbird-addon/lib/verdict-text.js';
import { msg } from './messages.js';
import { isSealError } from '../card/errors.js';
import { CliError, errorCodeOf, exitCodeOf } from './errors.js';

export interface CertSummary {
  type: 'card' | 'build';
  id: string;
  description: string;
  groupId: string;
  notAfter: string;
  [k: string]: unknown;
}

export function certSummary(c: Cert): CertSummary {
  const common = { description: describeCert(c), groupId: c.groupId, notAfter: new Date(c.notAfter).toISOString() };
  return c.type === 'card'
    ? { type: 'card', id: c.cardId, ...common, name: c.name, email: c.email, moduleKind: c.moduleKind }
    : {
        type: 'build',
        id: c.buildId,
        ...common,
        serial: c.serial,
        keyKind: c.keyKind,
        keyLabel: c.keyLabel,
        cardId: c.cardId,
        purchaser: `${c.purchaserName} <${c.purchaserEmail}>`,
        redeemerEmail: c.redeemerEmail,
        ...(c.copyOf ? { copyOf: c.copyOf } : {}),
      };
}

export interface ContainerSummary {
  certified: boolean;
  verdict: string;
  code?: string;
  reason: string;
  sealedBy: string;
  sealedWith: 'card' | 'dedicated';
  origin: CertSummary;
  created: string;
  signOnly: boolean;
  recipients: { kind: string; label: string }[];
  addressees?: string[];
}

export function summarize(header: Header, verdict: Verdict, addressees?: Cert[]): ContainerSummary {
  return {
    certified: verdict.certified,
    verdict: verdict.certified ? 'certified' : 'refused',
    ...(verdict.code ? { code: verdict.code } : {}),
    reason: verdict.reason,
    sealedBy: verdict.sealedBy,
    sealedWith: header.origin,
    origin: certSummary(verdict.origin),
    created: new Date(header.created).toISOString(),
    signOnly: header.signOnly,
    recipients: header.stanzas.map((s) => ({ kind: s.kind, label: s.label })),
    ...(addressees ? { addressees: addressees.map(describeCert) } : {}),
  };
}

function originFacts(o: CertSummary): OriginFacts {
  if (o.type === 'card') return { type: 'card', name: String(o.name), email: String(o.email), id: o.id };
  return { type: 'build', name: String(o.redeemerEmail), email: String(o.redeemerEmail), id: o.id, purchaserName: String(o.purchaser).replace(/\s*<[^>]*>$/, ''), serial: String(o.serial) };
}

/** The verdict in the words the add-on's banner uses (one message table), then the facts. */
export function humanSummary(s: ContainerSummary, file = 'this file'): string {
  const words = verdictText(
    { kind: s.certified ? 'certified' : 'refused', file, origin: originFacts(s.origin), code: s.code, reason: s.reason },
    msg,
  );
  // Names and emails come from certificates and sealed files: shown, never obeyed.
  const lines = [
    termSafe(words.title),
    `  ${termSafe(words.body)}`,
    `  why:         ${termSafe(s.reason)}`,
    `  sealed by:   ${termSafe(s.sealedBy)}`,
    `  sealed with: ${s.sealedWith === 'card' ? "a purchaser's card" : 'a dedicated build'}`,
    `  created:     ${s.created}`,
    `  ${s.signOnly ? 'signed only (not encrypted)' : `for:         ${s.recipients.map((r) => `${r.kind} ${termSafe(r.label)}`).join(', ')}`}`,
  ];
  if (s.addressees?.length) lines.push(`  addressed to: ${s.addressees.map(termSafe).join('; ')}`);
  return lines.join('\n');
}

/** A tampered or damaged container, said as the banner says it; the technical reason kept last. */
export function inPeoplesWords(e: unknown, file: string): unknown {
  if (!isSealError(e, 'TAMPERED') && !isSealError(e, 'MALFORMED')) return e;
  const w = verdictText({ kind: e.code === 'TAMPERED' ? 'tampered' : e.foreign ? 'error' : 'damaged', file, reason: e.message, ...(e.foreign ? { code: UNREADABLE } : {}) }, msg);
  return new CliError(`${termSafe(w.title)}\n  ${termSafe(w.body)}\n  why: ${termSafe(e.message)}`, exitCodeOf(e), errorCodeOf(e));
}

/** What a decrypt prints: where the content went, and the sealed file's verdict. */
export function reportOpened(o: { json?: boolean }, output: string, meta: FileMeta, s: ContainerSummary): void {
  const out = { output: path.resolve(output), name: meta.name, type: meta.type, size: meta.size, ...s };
  print(o, out, () => `opened → ${termSafe(output)} (${termSafe(meta.name)}, ${meta.size} bytes)\n${humanSummary(s, meta.name)}`);
}
