// The add-on's pure parts around a verdict: the people's-words text from the one message
// table (the banner and the CLI share it), the status list an installed build keeps
// (verified, never rolled back, revoking itself), and the compose choices.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildParty, isSealError, profileSecrets, profileCerts, signStatus, newSigningKey, type StatusList } from '../../card/index.js';
import { msg } from '../../cli/messages.js';
import { formatMessage, originOf, verdictText, type VerdictFacts } from '../../thunderbird-addon/lib/verdict-text.js';
import { acceptStatus, selfRevoked, statusUrlOf } from '../../thunderbird-addon/lib/status-logic.js';
import { judge } from '../../thunderbird-addon/lib/display-logic.js';
import { choiceText, parseChoice, purchaserPlan } from '../../thunderbird-addon/lib/plan.js';
import { aliceParty, cli, makeAddonWorld, sealWith, type AddonWorld } from './support/addon-world.js';
import { toBase64 } from '../../card/index.js';

let w: AddonWorld;
beforeAll(async () => {
  w = await makeAddonWorld(fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-words-')));
});

const list = (issuedAt: number, revoked: Partial<StatusList['revoked']> = {}): StatusList => ({ issuedAt, revoked: { codes: [], builds: [], cards: [], ...revoked } });

describe('verdicts in people\'s words (one message table)', () => {
  const alice = () => originOf(w.alice.cert);
  const base = (kind: VerdictFacts['kind'], extra: Partial<VerdictFacts> = {}): VerdictFacts => ({ kind, file: 'report.pdf', sender: 'Alice Example <alice@example.test>', reason: 'technical reason', ...extra });

  it('an unreadable file is said as not a sealed file this sealcode can read, naming whom to ask; other errors keep the general text', () => {
    expect(verdictText(base('error', { code: 'UNREADABLE' }), msg).body).toBe(
      'It is not a sealed file this sealcode can read (the details say why), so nothing was opened. It may come from another program or a newer sealcode; ask Alice Example <alice@example.test> what they sent.',
    );
    expect(verdictText(base('error'), msg).body).toBe('Something went wrong while checking; the details say what. Nothing was opened.');
  });

  it('`sealcode verify` says a foreign file named .seal the same way as the banner', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-foreign-'));
    fs.writeFileSync(path.join(d, 'issuer.pub'), toBase64(w.issuer.publicKey));
    fs.writeFileSync(path.join(d, 'invoice.pdf.seal'), '%PDF-1.4\n' + 'x'.repeat(4000));
    const r = await cli(['verify', '--issuer', path.join(d, 'issuer.pub'), path.join(d, 'invoice.pdf.seal')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('sealcode could not check invoice.pdf.');
    expect(r.stderr).toContain('It is not a sealed file this sealcode can read');
    expect(r.stderr).toContain('not a sealcode container');
    expect(r.stderr).not.toContain('Damaged');
  });

  it('placeholders as Thunderbird fills them', () => {
    expect(formatMessage({ message: 'A $X$ and $Y$, $$5', placeholders: { x: { content: '$1' }, y: { content: '$2' } } }, ['one', '$1'])).toBe('A one and $1, $5');
    expect(formatMessage(undefined, [])).toBe('');
  });

  it('one template per verdict, with whom it comes from; the technical reason only in the details', () => {
    const cases: [VerdictFacts, RegExp, string][] = [
      [base('certified', { origin: alice() }), /^Certified: report\.pdf comes from the card of Alice Example <alice@example\.test>\.$/, 'ok'],
      [base('refused', { code: 'REVOKED', origin: alice() }), /^Not certified: sealcode cannot vouch for who sealed report\.pdf\.$/, 'bad'],
      [base('tampered'), /^Tampered: report\.pdf was changed after it was sealed\.$/, 'bad'],
      [base('damaged'), /^Damaged: report\.pdf is not a readable sealed file\.$/, 'bad'],
      [base('not-for-us', { origin: alice(), originCertified: true, recipients: ['code X'] }), /^Sealed for someone else: report\.pdf cannot be opened here\.$/, 'warn'],
      [base('locked', { origin: alice() }), /^Origin certified: report\.pdf comes from the card of Alice Example/, 'warn'],
      [base('never-unlocked'), /^Not checked yet: report\.pdf\.$/, 'warn'],
      [base('host-missing'), /^Not checked: report\.pdf needs the sealcode card host, which is not installed\.$/, 'warn'],
      [base('revoked-self'), /^Not opened: this sealcode add-on was revoked/, 'bad'],
      [base('revoked-self', { self: 'card' }), /^Not opened: your card was revoked by its distributor \(report\.pdf\)\.$/, 'bad'],
      [base('error'), /^sealcode could not check report\.pdf\.$/, 'bad'],
      [base('error', { code: 'UNREADABLE' }), /^sealcode could not check report\.pdf\.$/, 'bad'],
    ];
    for (const [f, title, tone] of cases) {
      const x = verdictText(f, msg);
      expect(x.title, f.kind).toMatch(title);
      expect(x.tone, f.kind).toBe(tone);
      expect(x.title + x.body, f.kind).not.toContain('technical reason');
      expect(x.details, f.kind).toContain('technical reason');
      // No template left a placeholder unfilled, and no key fell through.
      expect(x.title + x.body, f.kind).not.toMatch(/\$|verdict[A-Z]/);
    }
  });

  it('says "card" once, names the sender, and tells locked from a missing host', () => {
    const c = verdictText(base('certified', { origin: alice() }), msg);
    expect(c.title.match(/card/g)).toHaveLength(1);
    const nf = verdictText(base('not-for-us', { origin: alice(), originCertified: true, recipients: ['code ABC'] }), msg).body;
    expect(nf).toContain('(origin certified)');
    expect(nf).toContain('sealed for code ABC, not for you');
    expect(nf).toContain('Ask Alice Example <alice@example.test>');
    const locked = verdictText(base('locked', { origin: alice() }), msg);
    const missing = verdictText(base('host-missing'), msg);
    expect(locked.body).toMatch(/Unlock your card/);
    expect(locked.body).not.toMatch(/install/);
    expect(missing.body).toContain('sealcode card host --install --card');
    expect(missing.title + missing.body).not.toMatch(/unlock/i);
    const build = originOf(profileCerts(w.dana).build);
    expect(verdictText(base('certified', { origin: build }), msg).title).toBe('Certified: report.pdf comes from the sealcode add-on of dana@example.test (from a code of Alice Example).');
  });

  it('a refusal says why in plain words: revoked, expired, a copy', () => {
    expect(verdictText(base('refused', { code: 'REVOKED' }), msg).body).toMatch(/revoked/);
    expect(verdictText(base('refused', { code: 'EXPIRED' }), msg).body).toMatch(/expired/);
    expect(verdictText(base('refused', { code: 'REFUSED', reason: 'not from a purchaser: dedicated build to dedicated build without a copy right' }), msg).body).toMatch(/copy of a sealcode add-on/);
  });
});

describe('the status list an installed build keeps', () => {
  it('is fetched from the distributor named in the card or profile, over https (or loopback)', () => {
    expect(statusUrlOf('https://d.example.test/redeem?x=1')).toBe('https://d.example.test/api/v1/status');
    expect(statusUrlOf('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080/api/v1/status');
    expect(() => statusUrlOf('http://d.example.test/')).toThrow(/https/);
  });

  it('is taken only when the issuer signed it, and never replaced by an older one', () => {
    const l1 = list(1000);
    const l2 = list(2000, { builds: ['b1'] });
    expect(acceptStatus(undefined, signStatus(w.issuer.secretKey, l1), w.issuer.publicKey)).toEqual({ list: l1, changed: true });
    expect(acceptStatus(l1, signStatus(w.issuer.secretKey, l2), w.issuer.publicKey)).toEqual({ list: l2, changed: true });
    expect(acceptStatus(l2, signStatus(w.issuer.secretKey, l2), w.issuer.publicKey).changed).toBe(false);
    let e: unknown;
    try {
      acceptStatus(l2, signStatus(w.issuer.secretKey, l1), w.issuer.publicKey);
    } catch (x) {
      e = x;
    }
    expect(isSealError(e, 'REFUSED')).toBe(true);
    expect((e as Error).message).toMatch(/older than the one held/);
    const other = newSigningKey();
    expect(() => acceptStatus(undefined, signStatus(other.secretKey, l2), w.issuer.publicKey)).toThrow(/not signed by the issuer/);
    const forged = signStatus(w.issuer.secretKey, l1);
    forged.body = Buffer.from(JSON.stringify(l2)).toString('base64');
    expect(() => acceptStatus(undefined, forged, w.issuer.publicKey)).toThrow(/not signed by the issuer/);
    expect(() => acceptStatus(undefined, { body: 5 }, w.issuer.publicKey)).toThrow(/malformed/);
  });

  it('revokes this build by its id or its code, and a card by its id', () => {
    const { build } = profileCerts(w.dana);
    const self = { type: 'build' as const, buildId: build.buildId, serial: build.serial };
    expect(selfRevoked(undefined, self)).toBeNull();
    expect(selfRevoked(list(1), self)).toBeNull();
    expect(selfRevoked(list(1, { builds: [build.buildId] }), self)).toMatch(/revoked this add-on/);
    expect(selfRevoked(list(1, { codes: [build.serial] }), self)).toMatch(/revoked the code/);
    expect(selfRevoked(list(1, { cards: [w.alice.data.cardId] }), { type: 'card', cardId: w.alice.data.cardId })).toMatch(/revoked this card/);
  });

  it("refuses a revoked sender's mail with the reason, keyless (locked card) or with keys", async () => {
    const s = await sealWith(buildParty(profileSecrets(w.dana)), [{ kind: 'code', label: w.serial }], new Uint8Array(5000), 'r.bin', [w.alice.certBytes]);
    const status = list(1, { builds: [w.dana.buildId] });
    const withKeys = await judge(new Blob([s as BlobPart]), 'r.bin.seal', { party: aliceParty(w), issuerPub: w.issuer.publicKey, status });
    expect(withKeys.view).toMatchObject({ kind: 'refused', code: 'REVOKED' });
    expect(withKeys.content).toBeUndefined();
    const keyless = await judge(new Blob([s as BlobPart]), 'r.bin.seal', { party: null, issuerPub: w.issuer.publicKey, status });
    expect(keyless.view).toMatchObject({ kind: 'refused', code: 'REVOKED' });
    // Without the list the same file is certified: the list is what refuses it.
    expect((await judge(new Blob([s as BlobPart]), 'r.bin.seal', { party: aliceParty(w), issuerPub: w.issuer.publicKey })).view.kind).toBe('certified');
  });
});

describe('compose choices (per recipient, remembered)', () => {
  const card = () => ({ groupId: w.alice.data.groupId, pairs: ['pair_1'] });
  it('reads every way of sealing, and writes it back the same', () => {
    for (const text of ['group', 'pair:pair_1', 'id:team', 'sign-only', w.serial]) expect(choiceText(parseChoice(text, card())!)).toBe(text);
    expect(parseChoice('group', card())).toEqual({ kind: 'group', label: w.alice.data.groupId });
    expect(parseChoice('  ', card())).toBeNull();
    expect(() => parseChoice('pair:nope', card())).toThrow(/no pair key nope/);
    expect(() => parseChoice('group', {})).toThrow(/unlock/);
    expect(() => parseChoice('id:two words', card())).toThrow(/ID/);
  });

  it('signature-only for all recipients signs; mixed with sealed recipients is refused', async () => {
    const party = async () => aliceParty(w);
    const signed = await purchaserPlan({ to: ['a@x.test', 'b@x.test'] }, { 'a@x.test': { kind: 'sign', label: '' }, 'b@x.test': { kind: 'sign', label: '' } }, undefined, party);
    expect(signed).toMatchObject({ signOnly: true, recipients: [] });
    await expect(purchaserPlan({ to: ['a@x.test', 'b@x.test'] }, { 'a@x.test': { kind: 'sign', label: '' }, 'b@x.test': { kind: 'group', label: 'g' } }, undefined, party)).rejects.toThrow(/signature-only.*choose one for all/);
    const group = await purchaserPlan({ to: ['b@x.test'] }, { 'b@x.test': { kind: 'group', label: w.alice.data.groupId } }, undefined, party);
    expect(group?.recipients).toEqual([{ kind: 'group', label: w.alice.data.groupId }]);
  });
});
