// What a verdict means, in people's words: one template per verdict from the message
// table in _locales (the add-on's banner reads it through i18n.getMessage, the CLI
// through cli/messages.ts), so the banner and `sealcode verify`/`decrypt` say the same.
// The technical reason goes into `details`, shown behind a disclosure.
import type { Cert } from '../../card/certs.js';

export type Msg = (key: string, subs?: string[]) => string;

/** Who sealed a file, from its authentic certificate. */
export interface OriginFacts {
  type: 'card' | 'build';
  /** Card: the purchaser. Build: the person who redeemed the code (email only). */
  name: string;
  email: string;
  id: string;
  purchaserName?: string;
  serial?: string;
}

export type TextKind =
  | 'certified'
  | 'refused'
  | 'tampered'
  | 'damaged'
  | 'not-for-us'
  | 'locked'
  | 'never-unlocked'
  | 'host-missing'
  | 'revoked-self'
  | 'needs-code'
  | 'error';

export interface VerdictFacts {
  kind: TextKind;
  /** The attachment as the reader sees it. */
  file: string;
  /** The mail's sender as its From header names them (the banner); absent in the CLI. */
  sender?: string;
  origin?: OriginFacts;
  /** Whether the origin was certified keylessly (not-for-us). */
  originCertified?: boolean;
  code?: string;
  /** Whom the file is sealed for (not-for-us). */
  recipients?: string[];
  /** revoked-self: the purchaser's card, or this dedicated add-on (the default). */
  self?: 'card' | 'build';
  reason: string;
}

export interface VerdictText {
  tone: 'ok' | 'warn' | 'bad';
  title: string;
  body: string;
  details: string[];
}

/** `code` of an `error` verdict whose file is no sealed file this sealcode reads (SealError.foreign): more than "damaged". */
export const UNREADABLE = 'UNREADABLE';

export function originOf(c: Cert): OriginFacts {
  return c.type === 'card'
    ? { type: 'card', name: c.name, email: c.email, id: c.cardId }
    : { type: 'build', name: c.redeemerEmail, email: c.redeemerEmail, id: c.buildId, purchaserName: c.purchaserName, serial: c.serial };
}

export function originPhrase(o: OriginFacts, t: Msg): string {
  return o.type === 'card' ? t('originCard', [o.name, o.email]) : t('originBuild', [o.email, o.purchaserName ?? '']);
}

/** The sender for "ask … to send it again": the mail's From, else the origin, else a plain "the sender". */
const senderPhrase = (f: VerdictFacts, t: Msg): string => f.sender || (f.origin ? `${f.origin.name} <${f.origin.email}>` : t('theSender'));

function refusedBody(f: VerdictFacts, t: Msg, who: string): string {
  if (f.code === 'REVOKED') return t('verdictRefusedRevoked', [who]);
  if (f.code === 'EXPIRED') return t('verdictRefusedExpired', [who]);
  if (/copy|dedicated build to dedicated build|own key/.test(f.reason)) return t('verdictRefusedCopy', [who]);
  return t('verdictRefusedOther', [who]);
}

export function verdictText(f: VerdictFacts, t: Msg): VerdictText {
  const who = senderPhrase(f, t);
  const origin = f.origin ? originPhrase(f.origin, t) : t('originUnknown');
  const details = [f.reason, ...(f.origin ? [t('detailOriginId', [f.origin.id])] : [])].filter(Boolean);
  switch (f.kind) {
    case 'certified':
      return { tone: 'ok', title: t('verdictCertifiedTitle', [f.file, origin]), body: t('verdictCertifiedBody'), details };
    case 'refused':
      return { tone: 'bad', title: t('verdictRefusedTitle', [f.file]), body: refusedBody(f, t, who), details };
    case 'tampered':
      return { tone: 'bad', title: t('verdictTamperedTitle', [f.file]), body: t('verdictTamperedBody', [who]), details };
    case 'damaged':
      return { tone: 'bad', title: t('verdictDamagedTitle', [f.file]), body: t('verdictDamagedBody', [who]), details };
    case 'not-for-us': {
      const certified = f.originCertified ? t('originIsCertified') : t('originNotCertified');
      const forWhom = f.recipients?.length ? f.recipients.join(', ') : t('originUnknown');
      return { tone: 'warn', title: t('verdictNotForUsTitle', [f.file]), body: t('verdictNotForUsBody', [origin, certified, forWhom, who]), details };
    }
    case 'locked':
      return { tone: 'warn', title: t('verdictLockedTitle', [f.file, origin]), body: t('verdictLockedBody'), details };
    case 'never-unlocked':
      return { tone: 'warn', title: t('verdictNeverUnlockedTitle', [f.file]), body: t('verdictNeverUnlockedBody'), details };
    case 'host-missing':
      return { tone: 'warn', title: t('verdictHostMissingTitle', [f.file]), body: t('verdictHostMissingBody'), details };
    case 'revoked-self':
      return f.self === 'card'
        ? { tone: 'bad', title: t('verdictRevokedCardTitle', [f.file]), body: t('verdictRevokedCardBody'), details }
        : { tone: 'bad', title: t('verdictRevokedSelfTitle', [f.file]), body: t('verdictRevokedSelfBody'), details };
    case 'needs-code':
      return { tone: 'warn', title: t('verdictNeedsCodeTitle', [f.file]), body: t('verdictNeedsCodeBody'), details };
    default:
      return { tone: 'bad', title: t('verdictErrorTitle', [f.file]), body: f.code === UNREADABLE ? t('verdictUnreadableBody', [who]) : t('verdictErrorBody'), details };
  }
}

/** Chrome-style i18n: named $PLACEHOLDERS$ map to $1..$9; `$$` is a dollar. */
export interface MessageEntry {
  message: string;
  placeholders?: Record<string, { content: string }>;
}

export function formatMessage(e: MessageEntry | undefined, subs: string[] = []): string {
  if (!e) return '';
  const named = e.message.replace(/\$([A-Za-z0-9_@]+)\$/g, (all, name: string) => e.placeholders?.[name.toLowerCase()]?.content ?? all);
  return named.replace(/\$(\$|[1-9])/g, (_, d: string) => (d === '$' ? '$' : (subs[Number(d) - 1] ?? '')));
}
