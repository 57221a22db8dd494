// Bad input at the IMAP side, against a real Dovecot and the gateway as it runs:
// - the shapes that once got a different verdict under and over 1 MB, each appended
//   small and padded over 1 MB, must get the same (right) keyword;
// - a tampered seal hidden after 300 parts is found; one 40 levels deep is "too complex
//   to check" (uncertified, counted in /metrics), never certified;
// - a certified seal beside an unsealed attachment is $SealPartial;
// - $Seal* keywords set by a client on APPEND are not trusted: the message is checked
//   and the wrong ones removed (logged);
// - a folder that names its owner applies Fig. 17/18 to mail sealed as the CLI seals it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { expected, message, tree, type Seal } from './support/mime-trees.js';
import type { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { PASS, USER, append, cast, compose, flagsOf, gatewayConfig, imapClient, ourKeywords, sealedMail, tmpDir, waitUntil, type Cast } from './support/fixtures.js';

let dc: Dovecot;
let c: Cast;
let client: ImapFlow;
let gw: Gateway;
let dataDir: string;
const logLines: Record<string, unknown>[] = [];
const settled = new Map<string, string | undefined>();
const key = (folder: string, uid: number): string => `${folder}/${uid}`;

beforeAll(async () => {
  dc = await startDovecot({ users: [{ user: USER, pass: PASS }] });
  c = cast();
  client = await imapClient(dc);
  await client.mailboxCreate('Dana');
  dataDir = tmpDir('sealcode-gw-verdict-');
  const cfg = gatewayConfig(c, dc, dataDir);
  Object.assign(cfg.imap.accounts[0]!, { folders: ['INBOX', 'Dana'], folderOwners: { Dana: c.danaOwner } });
  const file = path.join(dataDir, 'gateway.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
    logger: pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s) as Record<string, unknown>) }),
    onSettled: (e) => settled.set(key(e.folder, e.uid), e.label),
  });
  await gw.ready;
});

afterAll(async () => {
  await gw?.stop();
  await client?.logout().catch(() => {});
  await dc?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const H = 'From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: shape\r\nMIME-Version: 1.0\r\n';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/(.{76})/g, '$1\r\n');
const sealPart = (b: Uint8Array, name = 'report.pdf.seal'): string =>
  `Content-Type: application/x-sealcode; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(b)}`;
const text = 'Content-Type: text/plain; charset=utf-8\r\n\r\nPlease find it attached.';
/** A top-level multipart; `pad` bytes of preamble (invisible to every reader) push it over 1 MB. */
const top = (boundaryParam: string, boundary: string, body: string, pad: number, close = true): Buffer =>
  Buffer.from(
    `${H}Content-Type: multipart/mixed; boundary=${boundaryParam}\r\n\r\n${'This is a multi-part message in MIME format.\r\n'.repeat(Math.ceil(pad / 46))}` +
      `--${boundary}\r\n${body}${close ? `\r\n--${boundary}--\r\n` : '\r\n'}`,
    'latin1',
  );
const PAD = 1.1 * 1024 * 1024;

describe('gateway verdicts over a real Dovecot', () => {
  let ok: Uint8Array;
  let bad: Uint8Array;
  beforeAll(async () => {
    const data = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
    ok = await c.sealed('card', data);
    bad = await c.sealed('tampered', data);
  });

  it('every shape gets the same, right keyword small and padded over 1 MB', async () => {
    const forward = (inner: Uint8Array): string =>
      `${text}\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: Carol <carol@example.test>\r\nSubject: original\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n${text}\r\n--i\r\n${sealPart(inner)}\r\n--i--`;
    // Forwarded as an attachment whose own body is encoded (as some clients forward).
    const original = (inner: Uint8Array): string =>
      `From: Carol <carol@example.test>\r\nSubject: original\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n${text}\r\n--i\r\n${sealPart(inner)}\r\n--i--\r\n`;
    const qp = (s: string): string => s.replace(/=/g, '=3D').replace(/([^\r\n]{70})/g, '$1=\r\n');
    const forwardEncoded = (cte: string, inner: Uint8Array): string =>
      `${text}\r\n--o\r\nContent-Type: message/rfc822; name="original.eml"\r\nContent-Disposition: attachment; filename="original.eml"\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n` +
      (cte === 'base64' ? b64(Buffer.from(original(inner), 'latin1')) : qp(original(inner)));
    // Base64 the way some encoders write it: two runs, each padded, one after the other.
    const cut = 1001;
    const splitB64 = `Content-Type: application/x-sealcode; name="a.seal"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(ok.subarray(0, cut))}\r\n${b64(ok.subarray(cut))}`;
    const nest = (levels: number, inner: string): string => {
      let s = inner;
      for (let i = levels; i >= 1; i--) s = `Content-Type: multipart/mixed; boundary=n${i}\r\n\r\n--n${i}\r\n${s}\r\n--n${i}--`;
      return s;
    };
    const filler = Array.from({ length: 300 }, (_, i) => `Content-Type: text/plain\r\n\r\nfiller ${i}\r\n--o\r\n`).join('');
    const shapes: [string, (pad: number) => Buffer, string | undefined][] = [
      ['forwarded certified', (p) => top('o', 'o', forward(ok), p), '$SealCertified'],
      ['forwarded tampered', (p) => top('o', 'o', forward(bad), p), '$SealTampered'],
      ['forwarded as base64, certified', (p) => top('o', 'o', forwardEncoded('base64', ok), p), '$SealCertified'],
      ['forwarded as base64, tampered', (p) => top('o', 'o', forwardEncoded('base64', bad), p), '$SealTampered'],
      ['forwarded as quoted-printable, certified', (p) => top('o', 'o', forwardEncoded('quoted-printable', ok), p), '$SealCertified'],
      ['forwarded as quoted-printable, tampered', (p) => top('o', 'o', forwardEncoded('quoted-printable', bad), p), '$SealTampered'],
      [
        'an attached message named .seal (holding a certified seal)',
        (p) => top('o', 'o', `${text}\r\n--o\r\nContent-Type: message/rfc822; name="plan.pdf.seal"\r\n\r\n${original(ok)}`, p),
        '$SealTampered',
      ],
      ['no closing delimiter, tampered last', (p) => top('o', 'o', `${text}\r\n--o\r\n${sealPart(bad)}`, p, false), '$SealTampered'],
      ['boundary with a comment', (p) => top('o (mixed)', 'o', `${text}\r\n--o\r\n${sealPart(bad)}`, p), '$SealTampered'],
      ['base64 padded mid-stream', (p) => top('o', 'o', splitB64, p), '$SealCertified'],
      ['nested 25 levels', (p) => top('o', 'o', nest(25, sealPart(bad)), p), '$SealTampered'],
      ['tampered after 300 parts', (p) => top('o', 'o', `${sealPart(ok, 'first.seal')}\r\n--o\r\n${filler}${sealPart(bad, 'last.seal')}`, p), '$SealTampered'],
      ['tampered 40 levels deep', (p) => top('o', 'o', `${sealPart(ok, 'first.seal')}\r\n--o\r\n${nest(40, sealPart(bad))}`, p), '$SealUncertified'],
      [
        'certified beside an unsealed .exe',
        (p) => top('o', 'o', `${sealPart(ok)}\r\n--o\r\nContent-Type: application/octet-stream; name="payment-instructions.exe"\r\nContent-Disposition: attachment; filename="payment-instructions.exe"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA`, p),
        '$SealPartial',
      ],
      ['an unnamed inline image beside a certified seal', (p) => top('o', 'o', `${sealPart(ok)}\r\n--o\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nPNG`, p), '$SealPartial'],
    ];
    const cases: { name: string; uid: number; size: number; want?: string }[] = [];
    for (const [name, make, want] of shapes)
      for (const pad of [0, PAD]) {
        const raw = make(pad);
        cases.push({ name: `${name} (${raw.length > 1024 * 1024 ? 'over' : 'under'} 1 MB)`, uid: await append(client, raw), size: raw.length, want });
      }
    await waitUntil(() => cases.every((x) => settled.has(key('INBOX', x.uid))), 120_000, 'shapes settled');
    const flags = await flagsOf(client);
    for (const x of cases) expect(ourKeywords(flags.get(x.uid)!), x.name).toEqual(x.want ? [x.want] : []);
    expect(cases.filter((x) => x.size > 1024 * 1024)).toHaveLength(shapes.length);
    const deep = logLines.find((l) => l.event === 'verdict' && l.notExamined === 'depth');
    expect(deep).toMatchObject({ verdict: 'uncertified', reason: 'too complex to check: nested more than 32 levels deep' });
    expect(gw.metrics.registry.render()).toContain('sealcode_gateway_too_complex_total{limit="depth"} 2');
    const partial = logLines.find((l) => l.event === 'verdict' && l.verdict === 'partial');
    expect(partial).toMatchObject({ reason: '1 certified seal(s) beside 1 unsealed attachment(s)' });
    expect(partial!.unsealed).toEqual([{ part: '2', filename: 'payment-instructions.exe', type: 'application/octet-stream' }]);
  });

  it('property: generated MIME trees get the same keyword under and over 1 MB, the one the rules give', async () => {
    const containers: Record<Seal, Buffer> = { ok: Buffer.from(ok), refused: Buffer.from(await c.sealed('expired', new Uint8Array(3000))), tampered: Buffer.from(bad) };
    const word: Record<string, string> = { certified: '$SealCertified', partial: '$SealPartial', uncertified: '$SealUncertified', tampered: '$SealTampered' };
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), async (root, lf) => {
        const small = await append(client, message(root, containers, lf, 0));
        const bigRaw = message(root, containers, lf, PAD * 1.05);
        expect(bigRaw.length).toBeGreaterThan(1024 * 1024);
        const big = await append(client, bigRaw);
        await waitUntil(() => settled.has(key('INBOX', small)) && settled.has(key('INBOX', big)), 60_000, 'generated pair settled');
        const flags = await flagsOf(client);
        const want = expected(root);
        expect(ourKeywords(flags.get(small)!)).toEqual(want ? [word[want]] : []);
        expect(ourKeywords(flags.get(big)!)).toEqual(ourKeywords(flags.get(small)!));
      }),
      { numRuns: 8, seed: 8 },
    );
  });

  it('$Seal* keywords a client sets on APPEND are not trusted: checked, wrong ones removed, logged', async () => {
    const tampered = await append(client, await sealedMail(c, 'tampered', 2000, 'forged label'), 'INBOX', ['$SealCertified']);
    const good = await append(client, await sealedMail(c, 'card', 2000, 'right label'), 'INBOX', ['$SealCertified']);
    const plain = await append(client, await compose({ subject: 'plain, forged' }), 'INBOX', ['$SealCertified', '$SealPartial']);
    await waitUntil(() => [tampered, good, plain].every((u) => settled.has(key('INBOX', u))), 30_000, 'forged settled');
    const flags = await flagsOf(client);
    expect(ourKeywords(flags.get(tampered)!)).toEqual(['$SealTampered']);
    expect(ourKeywords(flags.get(good)!)).toEqual(['$SealCertified']);
    expect(ourKeywords(flags.get(plain)!)).toEqual([]);
    const removed = logLines.filter((l) => l.msg === 'removed $Seal keywords the gateway had not set');
    expect(removed.map((l) => [l.uid, l.removed])).toEqual([
      [tampered, ['$SealCertified']],
      [plain, ['$SealCertified', '$SealPartial']],
    ]);
    expect(gw.metrics.registry.render()).toContain('sealcode_gateway_foreign_keywords_removed_total{account="alice"} 3');
  });

  it('keywords a client changes after labelling are put back (under IDLE, and after a restart for changes made while it was away)', async () => {
    const tampered = await append(client, await sealedMail(c, 'tampered', 2000, 'later forged'));
    const good = await append(client, await sealedMail(c, 'card', 2000, 'later stripped'));
    const plain = await append(client, await compose({ subject: 'plain, later forged' }));
    await waitUntil(() => [tampered, good, plain].every((u) => settled.has(key('INBOX', u))), 30_000, 'settled');
    const restoredLines = () => logLines.filter((l) => l.msg === "$Seal keywords changed after labelling: the gateway's verdict restored");
    const before = restoredLines().length;
    // Another client: turns the tampered verdict into a certified one, strips a certified one, forges one on plain mail.
    const other = await imapClient(dc);
    await other.mailboxOpen('INBOX');
    await other.messageFlagsSet(String(tampered), ['$SealCertified', '\\Seen'], { uid: true });
    await other.messageFlagsRemove(String(good), ['$SealCertified'], { uid: true });
    await other.messageFlagsAdd(String(plain), ['$sealcertified'], { uid: true });
    await waitUntil(() => restoredLines().length >= before + 3, 30_000, 'restored under IDLE');
    let flags = await flagsOf(client);
    expect(ourKeywords(flags.get(tampered)!)).toEqual(['$SealTampered']);
    expect(flags.get(tampered)).toContain('\\Seen');
    expect(ourKeywords(flags.get(good)!)).toEqual(['$SealCertified']);
    expect(ourKeywords(flags.get(plain)!)).toEqual([]);
    // (Dovecot spells a keyword as the mailbox first knew it, whatever case a client sends.)
    const lower = (k: unknown): string[] => (k as string[]).map((x) => x.toLowerCase());
    expect(restoredLines().slice(before).map((l) => [l.uid, lower(l.found), lower(l.removed), l.restored ?? null])).toEqual([
      [tampered, ['$sealcertified'], ['$sealcertified'], '$SealTampered'],
      [good, [], [], '$SealCertified'],
      [plain, ['$sealcertified'], ['$sealcertified'], null],
    ]);
    expect(gw.metrics.registry.render()).toContain('sealcode_gateway_keywords_restored_total{account="alice"} 3');

    // While the gateway is stopped: the change is found when it starts again.
    const file = path.join(dataDir, 'gateway.json');
    await gw.stop();
    await other.messageFlagsSet(String(tampered), ['$SealCertified'], { uid: true });
    await other.logout();
    const before2 = restoredLines().length;
    gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), {
      logger: pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s) as Record<string, unknown>) }),
      onSettled: (e) => settled.set(key(e.folder, e.uid), e.label),
    });
    await gw.ready;
    await waitUntil(() => restoredLines().length > before2, 30_000, 'restored after a restart');
    flags = await flagsOf(client);
    expect(ourKeywords(flags.get(tampered)!)).toEqual(['$SealTampered']);
    expect(restoredLines().slice(before2).map((l) => l.uid)).toEqual([tampered]);
  });

  it("a folder naming its owner (Dana, code serialA) applies Fig. 17/18 to mail sealed as the CLI seals it", async () => {
    const kinds = [
      ['card', '$SealCertified'], // Alice's card → the code of Alice's group
      ['copyRight', '$SealCertified'], // a copy right of Dana's build
      ['dedToDed', '$SealUncertified'], // another build of the same code, no copy right (Fig. 17)
      ['otherDed', '$SealUncertified'], // another purchaser's dedicated user
      ['otherCard', '$SealUncertified'], // a card of another group, no pair key (Fig. 18)
    ] as const;
    const inDana: [string, number, string][] = [];
    for (const [kind, want] of kinds) inDana.push([kind, await append(client, await sealedMail(c, kind, 1500, kind), 'Dana'), want]);
    // The same dedicated → dedicated mail in a folder without an owner: only the header's addressee (Alice) is known.
    const inInbox = await append(client, await sealedMail(c, 'dedToDed', 1500, 'dedToDed'));
    await waitUntil(() => inDana.every(([, u]) => settled.has(key('Dana', u))) && settled.has(key('INBOX', inInbox)), 30_000, 'owner mail settled');
    const flags = await flagsOf(client, 'Dana');
    for (const [kind, uid, want] of inDana) expect(ourKeywords(flags.get(uid)!), kind).toEqual([want]);
    expect(ourKeywords((await flagsOf(client)).get(inInbox)!)).toEqual(['$SealCertified']);
    const reasons = logLines.filter((l) => l.event === 'verdict' && l.folder === 'Dana' && l.verdict === 'uncertified').map((l) => l.reason);
    expect(reasons).toEqual([
      'not from a purchaser: dedicated build to dedicated build without a copy right',
      "not from a purchaser: a dedicated build of another purchaser's code, sent to a dedicated user",
      "the sender's card is not of the group of the mailbox owner's code",
    ]);
  });
});
