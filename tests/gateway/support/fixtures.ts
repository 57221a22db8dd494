// Test cast and mail for the gateway: sealed attachments of every verdict, wrapped in
// real RFC 822 messages (nodemailer's composer), an IMAP client to append and inspect,
// and a config for a gateway against a test Dovecot.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { buildRecipient, fromBase64, profileCerts, seal, sealCardFile, toBase64, DAY_MS, type DedicatedProfile } from '../../../card/index.js';
import { nodePrimitives } from '../../../card/node.js';
import { chunksOf, collect, makeWorld, partyOfBuild, partyOfCard } from '../../support/world.js';
import type { Dovecot } from '../../support/dovecot.js';

export const USER = 'alice@example.test';
export const PASS = 'imap-secret';

export type Kind = 'card' | 'dedicated' | 'dedToDed' | 'otherDed' | 'copyRight' | 'otherCard' | 'tampered' | 'expired' | 'dedicated3';

/**
 * The cast, and containers sealed exactly as the real senders seal them: `sealcode card
 * encrypt --to SERIAL` (a card, the code's stanza, no addressees) and `sealcode dedicated
 * encrypt` / the dedicated add-on (a build, its purchaser's code, the purchaser's card as
 * the one addressee). Same card/ API, same options as cli/seal-files.ts.
 */
export function cast() {
  const w = makeWorld();
  // Dana holds D1, made from Alice's code serialA. A second build from the same code, not
  // a copy of D1: sent to Dana it is dedicated → dedicated without a copy right (Fig. 17).
  const D2 = w.build(w.A, w.g1, w.serialA);
  // A copy right of D1 (claim 14): same code, copyOf D1.
  const Dcopy = w.build(w.A, w.g1, w.serialA, { copyOf: w.D1.buildId });
  // Another purchaser's dedicated user: a build from Carol's code (group 2).
  const Dother = w.build(w.C, w.g2, w.C.data.codes[0]!.serial);
  const past = Date.now() - 30 * DAY_MS;
  const Dexp = w.build(w.A, w.g1, w.A.data.codes[1]!.serial, { now: past, validDays: 2 });
  // A third build from A's codes, for revocation through the status list.
  const D3 = w.build(w.A, w.g1, w.A.data.codes[2]!.serial);

  const meta = (data: Uint8Array) => ({ name: 'report.pdf', type: 'application/pdf', size: data.length });
  /** `sealcode card encrypt --to LABEL`: no addressees. */
  const byCard = (card: typeof w.A, label: string, data: Uint8Array, now?: number) =>
    collect(seal(chunksOf(data), { sender: partyOfCard(card), recipients: [{ kind: 'code', label }], meta: meta(data), primitives: nodePrimitives, now }));
  /** `sealcode dedicated encrypt` and the dedicated add-on: its purchaser's code, its purchaser's card as addressee. */
  const byBuild = (p: DedicatedProfile, data: Uint8Array, now?: number) =>
    collect(
      seal(chunksOf(data), {
        sender: partyOfBuild(p),
        recipients: [buildRecipient(profileCerts(p).build)],
        addressees: [fromBase64(p.purchaserCert)],
        meta: meta(data),
        primitives: nodePrimitives,
        now,
      }),
    );

  async function sealed(kind: Kind, data: Uint8Array): Promise<Uint8Array> {
    switch (kind) {
      case 'card':
        return byCard(w.A, w.serialA, data);
      case 'otherCard':
        return byCard(w.C, w.serialA, data);
      case 'dedicated':
        return byBuild(w.D1, data);
      case 'dedicated3':
        return byBuild(D3, data);
      case 'dedToDed':
        return byBuild(D2, data);
      case 'copyRight':
        return byBuild(Dcopy, data);
      case 'otherDed':
        return byBuild(Dother, data);
      case 'expired':
        // Sealed while the build was valid, checked after it expired.
        return byBuild(Dexp, data, past + DAY_MS);
      case 'tampered': {
        const b = await byCard(w.A, w.serialA, data);
        b[Math.floor(b.length / 2)]! ^= 0x40;
        return b;
      }
    }
  }
  /** Dana's mailbox, as a gateway config names its owner: D1's code, group and build. */
  const danaOwner = { code: w.serialA, group: w.g1.id, build: w.D1.buildId };
  return { ...w, D2, D3, Dexp, Dcopy, Dother, sealed, danaOwner, issuerPubB64: toBase64(w.issuer.publicKey) };
}
export type Cast = ReturnType<typeof cast>;

export async function compose(o: {
  subject: string;
  text?: string;
  attachments?: { filename: string; content: Uint8Array | Buffer; contentType?: string }[];
  headers?: Record<string, string>;
}): Promise<Buffer> {
  const mc = new MailComposer({
    from: 'Bob <bob@example.test>',
    to: USER,
    subject: o.subject,
    text: o.text ?? 'Hello, see the attachment.',
    headers: o.headers,
    attachments: o.attachments?.map((a) => ({ filename: a.filename, content: Buffer.from(a.content), contentType: a.contentType })),
  });
  return mc.compile().build();
}

export async function sealedMail(c: Cast, kind: Kind, size = 4096, subject: string = kind): Promise<Buffer> {
  const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  return compose({
    subject,
    attachments: [{ filename: 'report.pdf.seal', content: await c.sealed(kind, data), contentType: 'application/x-sealcode' }],
  });
}

export async function imapClient(dc: Dovecot): Promise<ImapFlow> {
  const client = new ImapFlow({ host: dc.host, port: dc.port, secure: false, auth: { user: USER, pass: PASS }, logger: false });
  await client.connect();
  return client;
}

/** APPEND (with keywords, as a client may set them), returning the new UID. */
export async function append(client: ImapFlow, raw: Buffer, folder = 'INBOX', flags?: string[]): Promise<number> {
  const r = await client.append(folder, raw, flags);
  if (!r || !r.uid) throw new Error('APPEND returned no UID (UIDPLUS missing?)');
  return r.uid;
}

export async function flagsOf(client: ImapFlow, folder = 'INBOX'): Promise<Map<number, string[]>> {
  const lock = await client.getMailboxLock(folder);
  try {
    const out = new Map<number, string[]>();
    for await (const m of client.fetch('1:*', { uid: true, flags: true }, { uid: true })) out.set(m.uid, [...(m.flags ?? [])]);
    return out;
  } finally {
    lock.release();
  }
}

export const ourKeywords = (flags: string[]): string[] => flags.filter((f) => f.startsWith('$Seal'));

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A gateway config for one account on the test Dovecot; extra fields merged on top. */
export function gatewayConfig(c: Cast, dc: Dovecot, dataDir: string, extra: Record<string, unknown> = {}) {
  return {
    issuerPublicKey: c.issuerPubB64,
    dataDir,
    log: { level: 'silent' },
    imap: {
      accounts: [{ name: 'alice', host: dc.host, port: dc.port, user: USER, password: { env: 'GW_TEST_IMAP_PASS' }, folders: ['INBOX'], pollSeconds: 30 }],
    },
    ...extra,
  };
}
process.env.GW_TEST_IMAP_PASS = PASS;

/** Dovecot logs every flag change (mail_log plugin): the server's own count of our STOREs. */
export const MAIL_LOG_CONFIG = `
mail_plugins = $mail_plugins mail_log notify
plugin {
  mail_log_events = flag_change
  mail_log_fields = uid flags
}
`;

/** How many times Dovecot saw a flag change on each UID of a folder's messages. */
export function flagChanges(dc: Dovecot): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of dc.log().split('\n')) {
    const m = /flag_change: uid=(\d+)/.exec(line);
    if (m) out.set(Number(m[1]), (out.get(Number(m[1])) ?? 0) + 1);
  }
  return out;
}

const isRoot = process.getuid?.() === 0;
export async function doveadm(dc: Dovecot, args: string[]): Promise<string> {
  const [cmd, a] = isRoot ? ['runuser', ['-u', 'nobody', '--', 'doveadm', '-c', dc.confPath, ...args]] : ['doveadm', ['-c', dc.confPath, ...args]];
  const { stdout } = await promisify(execFile)(cmd as string, a as string[]);
  return stdout;
}

export async function writeCardFile(c: Cast, dir: string, passphrase: string): Promise<string> {
  const file = path.join(dir, 'gateway.card');
  fs.writeFileSync(file, await sealCardFile(c.A.data, passphrase, 1024));
  return file;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
