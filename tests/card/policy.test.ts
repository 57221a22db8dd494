// Every rule of the certification policy (docs/FORMAT.md §15), one at a time, on the
// pure function: each case changes one fact of a certified input and names the rule
// that must then refuse it, with its code and reason. The container-level table is in
// certification-table.test.ts; this file is what makes deleting any single rule fail.
import { describe, expect, it } from 'vitest';
import { certify, describeCert, type BuildCert, type CardCert, type Cert, type PolicyInput, type Stanza, type StatusList } from '../../card/index.js';
import { buildCertOf, makeWorld } from '../support/world.js';

const w = makeWorld();
const now = w.now;
const SKEW = 10 * 60 * 1000;
const A = w.A.cert as CardCert; // group 1
const B = w.B.cert as CardCert; // group 1
const C = w.C.cert as CardCert; // group 2
const D1 = buildCertOf(w.D1); // from A's first code
const D2 = buildCertOf(w.build(w.A, w.g1, w.serialA)); // a second build of the same code
const copyOfD1 = buildCertOf(w.build(w.A, w.g1, w.serialA, { copyOf: D1.buildId }));
const idBuild = buildCertOf(w.build(w.A, w.g1, w.serialA, { keyKind: 'id', keyLabel: 'alice-friends' }));
const otherGroupBuild: BuildCert = { ...D1, buildId: 'bld_other', groupId: C.groupId, signPub: new Uint8Array(32).fill(3) };

const stanza = (kind: Stanza['kind'], label: string): Stanza => ({ kind, label, salt: new Uint8Array(16), wrapped: new Uint8Array(48) });
const ownStanza = (b: BuildCert) => stanza(b.keyKind, b.keyLabel);
const noStatus: StatusList = { issuedAt: now, revoked: { codes: [], builds: [], cards: [] } };
const status = (r: Partial<StatusList['revoked']>): StatusList => ({ issuedAt: now, revoked: { ...noStatus.revoked, ...r } });

function input(origin: Cert, extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    origin,
    originKind: origin.type === 'card' ? 'card' : 'dedicated',
    stanzas: origin.type === 'build' ? [ownStanza(origin)] : [stanza('code', w.serialA)],
    created: now,
    now,
    ...extra,
  };
}

const certified = (origin: Cert) => ({
  certified: true,
  reason: origin.type === 'card' ? "sealed with a purchaser's card" : 'sealed with a dedicated build issued by a purchaser\'s code',
  origin,
  sealedBy: describeCert(origin),
});
const refused = (origin: Cert, code: string, reason: string) => ({ certified: false, code, reason, origin, sealedBy: describeCert(origin) });

describe('certify: the sender', () => {
  it('certifies a card and a build with their own reasons and who sealed it', () => {
    expect(certify(input(A))).toEqual(certified(A));
    expect(certify(input(D1, { receiver: A }))).toEqual(certified(D1));
    expect(describeCert(A)).toBe(`card ${A.cardId} of Alice <alice@example.test>`);
  });

  it('refuses an origin byte that does not match the certificate, both ways', () => {
    expect(certify(input(A, { originKind: 'dedicated' }))).toEqual(refused(A, 'REFUSED', 'origin kind does not match its certificate'));
    expect(certify(input(D1, { originKind: 'card' }))).toEqual(refused(D1, 'REFUSED', 'origin kind does not match its certificate'));
  });

  it('refuses a creation time beyond the clock skew, and only beyond it', () => {
    expect(certify(input(A, { created: now + SKEW + 1 }))).toEqual(refused(A, 'REFUSED', 'created in the future'));
    expect(certify(input(A, { created: now + SKEW })).certified).toBe(true);
    expect(certify(input(A, { created: 0 })).certified).toBe(true);
  });

  it('an expired sender is EXPIRED from the millisecond after notAfter', () => {
    const day = new Date(A.notAfter).toISOString().slice(0, 10);
    expect(certify(input(A, { now: A.notAfter + 1, created: A.notAfter }))).toEqual(refused(A, 'EXPIRED', `the sender's card expired on ${day}`));
    expect(certify(input(A, { now: A.notAfter, created: A.notAfter })).certified).toBe(true);
    const bday = new Date(D1.notAfter).toISOString().slice(0, 10);
    expect(certify(input(D1, { now: D1.notAfter + 1, created: D1.notAfter }))).toEqual(refused(D1, 'EXPIRED', `the sender's build expired on ${bday}`));
  });

  it('a sender not yet valid is REFUSED beyond the skew, and accepted within it', () => {
    const early = { ...A, notBefore: now + SKEW + 1 };
    const day = new Date(early.notBefore).toISOString().slice(0, 10);
    expect(certify(input(early))).toEqual(refused(early, 'REFUSED', `the sender's card is not valid before ${day}`));
    expect(certify(input({ ...A, notBefore: now + SKEW })).certified).toBe(true);
  });

  it('a revoked card, a revoked build, a build of a revoked code and a build of a revoked card are REVOKED', () => {
    expect(certify(input(A, { status: status({ cards: [A.cardId] }) }))).toEqual(refused(A, 'REVOKED', "the sender's card is revoked"));
    expect(certify(input(D1, { status: status({ builds: [D1.buildId] }) }))).toEqual(refused(D1, 'REVOKED', "the sender's build is revoked"));
    expect(certify(input(D1, { status: status({ codes: [D1.serial] }) }))).toEqual(
      refused(D1, 'REVOKED', `the sender's build: its code ${D1.serial} is revoked`),
    );
    expect(certify(input(D1, { status: status({ cards: [A.cardId] }) }))).toEqual(
      refused(D1, 'REVOKED', `the sender's build: the purchaser's card ${A.cardId} is revoked`),
    );
  });

  it('revocations of something else leave the sender certified', () => {
    const others = status({ cards: [B.cardId], builds: [D2.buildId], codes: ['0000000000'] });
    expect(certify(input(A, { status: others })).certified).toBe(true);
    expect(certify(input(D1, { status: others })).certified).toBe(true);
    // A card id, build id or serial only revokes the kind of thing it names.
    const crossed = status({ cards: [D1.buildId, D1.serial], builds: [A.cardId, D1.serial], codes: [A.cardId, D1.buildId] });
    expect(certify(input(A, { status: crossed })).certified).toBe(true);
    expect(certify(input(D1, { status: crossed })).certified).toBe(true);
    expect(certify(input(A, { status: noStatus })).certified).toBe(true);
  });
});

describe('certify: a build seals only for its purchaser', () => {
  it('refuses any stanza of another kind or label', () => {
    const why = 'a dedicated build sealed for a party other than its purchaser';
    expect(certify(input(D1, { stanzas: [stanza('code', 'OTHERSERIA')] }))).toEqual(refused(D1, 'REFUSED', why));
    expect(certify(input(D1, { stanzas: [stanza('id', D1.keyLabel)] }))).toEqual(refused(D1, 'REFUSED', why));
    expect(certify(input(D1, { stanzas: [ownStanza(D1), stanza('group', w.g1.id)] }))).toEqual(refused(D1, 'REFUSED', why));
    expect(certify(input(idBuild, { stanzas: [stanza('code', idBuild.keyLabel)] }))).toEqual(refused(idBuild, 'REFUSED', why));
  });

  it('accepts its own stanza, repeated, and none (sign-only)', () => {
    expect(certify(input(D1, { stanzas: [ownStanza(D1), ownStanza(D1)] })).certified).toBe(true);
    expect(certify(input(idBuild, { stanzas: [ownStanza(idBuild)] })).certified).toBe(true);
    expect(certify(input(D1, { stanzas: [] })).certified).toBe(true);
  });

  it('a card may seal for anyone', () => {
    expect(certify(input(A, { stanzas: [stanza('group', w.g2.id), stanza('id', 'x'), stanza('pair', 'p')] })).certified).toBe(true);
  });
});

describe('certify: the receiving party', () => {
  const relation = (origin: Cert, receiver: Cert) => certify(input(origin, { receiver }));

  it('card → card: any group (the receiver could open it only with a shared key)', () => {
    expect(relation(A, B)).toEqual(certified(A));
    expect(relation(A, C)).toEqual(certified(A));
  });

  it('card → build: only a build of the same group', () => {
    expect(relation(A, D1)).toEqual(certified(A));
    expect(relation(C, D1)).toEqual(refused(C, 'REFUSED', "the sender's card is not of the group of this build's purchaser"));
  });

  it('build → card: only a card of the same group', () => {
    expect(relation(D1, B)).toEqual(certified(D1));
    expect(relation(D1, C)).toEqual(refused(D1, 'REFUSED', "this dedicated build was not made from a code of this card's group"));
  });

  it('build → build: its own id or key is an illegal copy', () => {
    const why = "signed with this build's own key: an illegal copy of the build";
    expect(relation(D1, D1)).toEqual(refused(D1, 'REFUSED', why));
    expect(relation(D1, { ...D2, buildId: D1.buildId })).toEqual(refused(D1, 'REFUSED', why));
    expect(relation(D1, { ...D2, signPub: D1.signPub })).toEqual(refused(D1, 'REFUSED', why));
  });

  it('build → build: a copy right either way with the same key label, and nothing else', () => {
    expect(relation(copyOfD1, D1)).toEqual(certified(copyOfD1));
    expect(relation(D1, copyOfD1)).toEqual(certified(D1));
    const why = 'not from a purchaser: dedicated build to dedicated build without a copy right';
    expect(relation(D2, D1)).toEqual(refused(D2, 'REFUSED', why));
    // A copy relation does not carry across key labels.
    expect(relation({ ...copyOfD1, keyLabel: 'other' }, D1)).toEqual(refused({ ...copyOfD1, keyLabel: 'other' }, 'REFUSED', why));
    expect(relation(D1, { ...copyOfD1, keyLabel: 'other' })).toEqual(refused(D1, 'REFUSED', why));
    // Nor to a third build of the same label.
    expect(relation(copyOfD1, D2)).toEqual(refused(copyOfD1, 'REFUSED', why));
  });

  it('the receiver is checked like the sender: expired, not yet valid, revoked', () => {
    const day = new Date(D1.notAfter).toISOString().slice(0, 10);
    expect(certify(input(A, { receiver: { ...D1, notAfter: now - 1 } }))).toEqual(
      refused(A, 'EXPIRED', `this build expired on ${new Date(now - 1).toISOString().slice(0, 10)}`),
    );
    expect(day).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(certify(input(D1, { receiver: { ...B, notAfter: now - 1 } })).reason).toBe(`this card expired on ${new Date(now - 1).toISOString().slice(0, 10)}`);
    expect(certify(input(A, { receiver: { ...B, notBefore: now + SKEW + 1 } })).code).toBe('REFUSED');
    expect(certify(input(A, { receiver: B, status: status({ cards: [B.cardId] }) }))).toEqual(refused(A, 'REVOKED', 'this card is revoked'));
    expect(certify(input(A, { receiver: D1, status: status({ builds: [D1.buildId] }) }))).toEqual(refused(A, 'REVOKED', 'this build is revoked'));
    expect(certify(input(A, { receiver: D1, status: status({ cards: [A.cardId] }) })).code).toBe('REVOKED');
  });

  it('with a receiver, the addressees are not the parties judged', () => {
    expect(certify(input(A, { receiver: B, addressees: [otherGroupBuild] })).certified).toBe(true);
  });
});

describe('certify: keyless, against the addressees', () => {
  it('no addressee: only the sender is vouched for', () => {
    expect(certify(input(D1))).toEqual(certified(D1));
    expect(certify(input(D1, { addressees: [] }))).toEqual(certified(D1));
  });

  it('every addressee must pass; the first that fails decides', () => {
    expect(certify(input(A, { addressees: [D1, B, C] }))).toEqual(certified(A));
    expect(certify(input(A, { addressees: [D1, otherGroupBuild] }))).toEqual(
      refused(A, 'REFUSED', "the sender's card is not of the group of this build's purchaser"),
    );
    expect(certify(input(D1, { addressees: [A, C] }))).toEqual(refused(D1, 'REFUSED', "this dedicated build was not made from a code of this card's group"));
  });

  it('an addressee is checked for expiry and revocation, named as the addressed party', () => {
    const at = new Date(now - 1).toISOString().slice(0, 10);
    expect(certify(input(D1, { addressees: [{ ...A, notAfter: now - 1 }] }))).toEqual(refused(D1, 'EXPIRED', `the addressed party expired on ${at}`));
    expect(certify(input(D1, { addressees: [A], status: status({ cards: [A.cardId] }) }))).toEqual(
      refused(D1, 'REVOKED', `the sender's build: the purchaser's card ${A.cardId} is revoked`),
    );
    expect(certify(input(B, { addressees: [A], status: status({ cards: [A.cardId] }) }))).toEqual(refused(B, 'REVOKED', 'the addressed party is revoked'));
  });
});
