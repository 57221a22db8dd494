// Mailbox owners: the config that names them (per account or per folder) and the keyless
// relation rules between a sender's certificate and the owner, one row at a time
// (DESIGN.md Fig. 17/18), with certificates from a real issuer.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEYWORDS } from '../../gateway/imap/watcher.js';
import { limitReason } from '../../gateway/verdict.js';
import { ConfigError, parseConfig } from '../../gateway/config.js';
import { decodeCert, newSigningKey, profileCerts, toBase64, type Stanza } from '../../card/index.js';
import { ownerRelation, type MailboxOwner } from '../../card/owner.js';
import { makeWorld } from '../support/world.js';

const w = makeWorld();
const A = decodeCert(w.A.certBytes);
const B = decodeCert(w.B.certBytes); // Alice's group
const C = decodeCert(w.C.certBytes); // another group
const D1 = profileCerts(w.D1).build;
const D2 = profileCerts(w.build(w.A, w.g1, w.serialA)).build;
const Dcopy = profileCerts(w.build(w.A, w.g1, w.serialA, { copyOf: D1.buildId })).build;
const Dother = profileCerts(w.build(w.C, w.g2, w.C.data.codes[0]!.serial)).build;
const stanza = (kind: Stanza['kind'], label: string): Stanza => ({ kind, label, salt: new Uint8Array(16), wrapped: new Uint8Array(48) });

const alice: MailboxOwner = { kind: 'card', cardId: A.cardId, groupId: w.g1.id };
const aliceNoGroup: MailboxOwner = { kind: 'card', cardId: A.cardId };
const dana: MailboxOwner = { kind: 'code', label: w.serialA, groupId: w.g1.id, buildId: D1.buildId };

describe('ownerRelation: a purchaser\'s mailbox (card)', () => {
  it('certifies its own card, its group, its own builds; a pair key links another group', () => {
    expect(ownerRelation(A, [], aliceNoGroup)).toBeNull();
    expect(ownerRelation(B, [stanza('group', w.g1.id)], alice)).toBeNull();
    expect(ownerRelation(D1, [stanza('code', w.serialA)], aliceNoGroup)).toBeNull();
    expect(ownerRelation(D2, [stanza('code', w.serialA)], alice)).toBeNull();
    expect(ownerRelation(C, [stanza('pair', 'pair_1')], alice)).toBeNull();
  });
  it('refuses a card of another group without a pair key, and a build of another group', () => {
    expect(ownerRelation(C, [stanza('code', w.serialA)], alice)).toBe("the sender's card is not of the mailbox owner's group and shares no pair key with it");
    // Without the group in the config, only the owner's own card is known.
    expect(ownerRelation(B, [stanza('group', w.g1.id)], aliceNoGroup)).toMatch(/not of the mailbox owner's group/);
    expect(ownerRelation(Dother, [stanza('code', Dother.keyLabel)], alice)).toBe("this dedicated build was not made from a code of the mailbox owner's card or group");
  });
});

describe('ownerRelation: a dedicated user\'s mailbox (code or ID)', () => {
  it('card → dedicated: certified from the code\'s group when sealed for the owner\'s code (or signed only)', () => {
    expect(ownerRelation(A, [stanza('code', w.serialA)], dana)).toBeNull();
    expect(ownerRelation(B, [stanza('code', w.serialA)], dana)).toBeNull();
    expect(ownerRelation(A, [], dana)).toBeNull();
    expect(ownerRelation(A, [stanza('code', 'OTHER')], dana)).toBe("not sealed for the mailbox owner's code");
    expect(ownerRelation(A, [stanza('code', w.serialA)], { ...dana, kind: 'id' })).toBe("not sealed for the mailbox owner's ID");
    expect(ownerRelation(C, [stanza('code', w.serialA)], dana)).toBe("the sender's card is not of the group of the mailbox owner's code");
  });
  it('dedicated → dedicated (Fig. 17): refused unless a copy right links them', () => {
    expect(ownerRelation(D2, [stanza('code', w.serialA)], dana)).toBe('not from a purchaser: dedicated build to dedicated build without a copy right');
    expect(ownerRelation(Dother, [stanza('code', Dother.keyLabel)], dana)).toBe(
      "not from a purchaser: a dedicated build of another purchaser's code, sent to a dedicated user",
    );
    expect(ownerRelation(Dcopy, [stanza('code', w.serialA)], dana)).toBeNull();
    // The owner's build is the copy: its parent may write to it.
    expect(ownerRelation(D2, [stanza('code', w.serialA)], { ...dana, copyOf: D2.buildId })).toBeNull();
    // Without the owner's build id no copy right can be seen.
    expect(ownerRelation(Dcopy, [stanza('code', w.serialA)], { kind: 'code', label: w.serialA, groupId: w.g1.id })).toMatch(/without a copy right/);
    expect(ownerRelation(D1, [stanza('code', w.serialA)], dana)).toBe("signed with the mailbox owner's own build key: an illegal copy of the build");
    expect(ownerRelation(D2, [stanza('code', w.serialA)], { ...dana, kind: 'id' })).toMatch(/another purchaser's code/);
  });
});

describe('config: owners and limits', () => {
  const key = toBase64(newSigningKey().publicKey);
  const doc = (account: Record<string, unknown>, imap: Record<string, unknown> = {}) => ({
    issuerPublicKey: key,
    dataDir: './d',
    imap: { accounts: [{ name: 'm', host: '127.0.0.1', user: 'u', password: 'p', folders: ['INBOX', 'Dana'], ...account }], ...imap },
  });
  const parse = (d: unknown) => parseConfig(JSON.stringify(d), '/etc/gw.json', { env: {} });

  it('an account owner applies to every folder; a folder owner overrides it', () => {
    const c = parse(doc({ owner: { card: 'card_1', group: 'grp_1' }, folderOwners: { Dana: { code: 'SERIAL', group: 'grp_1', build: 'build_1' } } }));
    expect(c.imap.accounts[0]!.owners).toEqual({
      INBOX: { kind: 'card', cardId: 'card_1', groupId: 'grp_1' },
      Dana: { kind: 'code', label: 'SERIAL', groupId: 'grp_1', buildId: 'build_1', copyOf: undefined },
    });
    expect(parse(doc({ folderOwners: { Dana: { id: 'supplier', group: 'g' } } })).imap.accounts[0]!.owners).toEqual({
      Dana: { kind: 'id', label: 'supplier', groupId: 'g', buildId: undefined, copyOf: undefined },
    });
    expect(parse(doc({})).imap.accounts[0]!.owners).toEqual({});
  });

  it('refuses an owner of an unwatched folder, a dedicated owner without its group, an unknown field', () => {
    expect(() => parse(doc({ folderOwners: { Other: { card: 'c' } } }))).toThrow(/folderOwners: Other is not a watched folder/);
    expect(() => parse(doc({ owner: { code: 'S' } }))).toThrow(ConfigError);
    expect(() => parse(doc({ owner: { card: 'c', colour: 'x' } }))).toThrow(ConfigError);
  });

  it('limits have documented defaults and can be set', () => {
    expect(parse(doc({})).imap.limits).toEqual({ maxParts: 1000, maxDepth: 32, maxBytes: 100 * 1024 * 1024, maxHeaderBytes: 1024 * 1024 });
    expect(parse(doc({}, { limits: { maxParts: 50 } })).imap.limits.maxParts).toBe(50);
    expect(() => parse(doc({}, { limits: { maxDepth: 0 } }))).toThrow(/imap\.limits\.maxDepth/);
  });
});


describe('docs/gateway.md states the labels and limits as the code applies them', () => {
  const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/gateway.md'), 'utf8');
  it('every keyword, limit default and limit reason', () => {
    for (const k of Object.values(KEYWORDS)) expect(doc).toContain(`| \`${k}\` |`);
    const minimal = { issuerPublicKey: toBase64(newSigningKey().publicKey), dataDir: 'd', imap: { accounts: [{ name: 'a', host: 'h', user: 'u', password: 'p' }] } };
    const limits = parseConfig(JSON.stringify(minimal), '/x.json', { env: {} }).imap.limits;
    for (const kind of ['parts', 'depth', 'size', 'header'] as const) expect(doc).toContain(`\`${limitReason(kind, limits)}\``);
    expect(doc).toContain(`| ${limits.maxParts} |`);
    expect(doc).toContain(`| ${limits.maxDepth} |`);
    expect(doc).toContain(`| ${limits.maxBytes} (100 MiB) |`);
    expect(doc).toContain(`| ${limits.maxHeaderBytes} (1 MiB) |`);
  });
  it('every owner refusal reason', () => {
    for (const r of [
      "the sender's card is not of the mailbox owner's group and shares no pair key with it",
      "this dedicated build was not made from a code of the mailbox owner's card or group",
      "the sender's card is not of the group of the mailbox owner's code",
      "not from a purchaser: a dedicated build of another purchaser's code, sent to a dedicated user",
      'not from a purchaser: dedicated build to dedicated build without a copy right',
      "signed with the mailbox owner's own build key: an illegal copy of the build",
    ])
      expect(doc).toContain(r);
  });
});
