// The add-on's logic outside Thunderbird: what onBeforeSend does with a fake compose
// API, whom it seals for, and the verdicts the banner shows (real containers, in Node).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildParty, openSealed, profileSecrets, isSealError, fromBase64, type Party } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { beforeSend, HEADER, type ComposeDeps, type SendOutcome } from '../../thunderbird-addon/lib/compose-logic.js';
import { addressesOf, dedicatedPlan, purchaserPlan } from '../../thunderbird-addon/lib/plan.js';
import { judge } from '../../thunderbird-addon/lib/display-logic.js';
import { addonPrimitives, heldSubtleHash } from '../../thunderbird-addon/lib/primitives.js';
import { SEALED_TYPE } from '../../thunderbird-addon/manifest.js';
import { aliceParty, makeAddonWorld, sealWith, type AddonWorld } from './support/addon-world.js';
import type { SealPlan } from '../../thunderbird-addon/lib/seal-files.js';

let w: AddonWorld;
beforeAll(async () => {
  w = await makeAddonWorld(fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-logic-')));
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A compose window with attachments, as messenger.compose shows it. */
function fakeCompose(files: { name: string; data: Uint8Array; type?: string }[], plan: ComposeDeps['plan'], fail?: { getFile?: boolean }) {
  let next = 1;
  const atts = new Map(files.map((f) => [next++, new File([f.data as BlobPart], f.name, { type: f.type ?? 'text/plain' })]));
  const notices: string[] = [];
  const outcomes: SendOutcome[] = [];
  const deps: ComposeDeps = {
    listAttachments: async () => [...atts.entries()].map(([id, f]) => ({ id, name: f.name, size: f.size })),
    getAttachmentFile: async (id) => {
      if (fail?.getFile) throw new Error('attachment vanished');
      return atts.get(id)!;
    },
    removeAttachment: async (_t, id) => void atts.delete(id),
    addAttachment: async (_t, a) => void atts.set(next++, a.file),
    plan,
    notify: (m) => void notices.push(m),
    record: (o) => void outcomes.push(o),
  };
  return { deps, atts, notices, outcomes };
}

async function openAs(party: Party, f: File) {
  async function* src() {
    yield new Uint8Array(await f.arrayBuffer());
  }
  const o = await openSealed(src(), { receiver: party, issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
  const parts: Uint8Array[] = [];
  for await (const c of o.content) parts.push(c.slice());
  return { o, data: Buffer.concat(parts) };
}

describe('onBeforeSend', () => {
  it('replaces every attachment by NAME.seal of our type and adds X-Sealcode, keeping other headers', async () => {
    const a = new Uint8Array(100_000).map((_, i) => i % 251);
    const b = new Uint8Array(5).fill(7);
    const c = fakeCompose([{ name: 'a.pdf', data: a }, { name: 'b.txt', data: b }], async () => dedicatedPlan(w.dana, undefined));
    const r = await beforeSend(c.deps, 1, { customHeaders: [{ name: 'X-Other', value: '1' }] });
    expect(r).toEqual({ details: { customHeaders: [{ name: 'X-Other', value: '1' }, { name: HEADER, value: 'v1; origin=dedicated; files=2' }] } });
    const files = [...c.atts.values()];
    expect(files.map((f) => [f.name, f.type])).toEqual([['a.pdf.seal', SEALED_TYPE], ['b.txt.seal', SEALED_TYPE]]);
    const opened = await openAs(aliceParty(w), files[0]!);
    expect(sha(opened.data)).toBe(sha(a));
    expect(opened.o.meta.name).toBe('a.pdf');
    expect(opened.o.header.addressees).toHaveLength(1);
    expect(c.outcomes[0]).toMatchObject({ sealed: true, cancelled: false });
  });

  it('several recipients share one container per file (purchaser)', async () => {
    const serial2 = w.alice.data.codes[1]!.serial;
    const remembered = { 'dana@example.test': { kind: 'code' as const, label: w.serial }, 'erin@example.test': { kind: 'code' as const, label: serial2 } };
    const c = fakeCompose([{ name: 'x.txt', data: new Uint8Array(10) }], (_t, d) => purchaserPlan(d, remembered, undefined, async () => aliceParty(w)));
    await beforeSend(c.deps, 1, { to: ['Dana <dana@example.test>'], cc: ['erin@example.test'] });
    const [f] = [...c.atts.values()];
    expect(c.atts.size).toBe(1);
    for (const p of [w.dana, w.erin.expires < Date.now() ? null : w.erin]) if (p) expect((await openAs(buildParty(profileSecrets(p)), f!)).o.verdict.certified).toBe(true);
    async function* src() {
      yield new Uint8Array(await f!.arrayBuffer());
    }
    const o = await openSealed(src(), { receiver: buildParty(profileSecrets(w.dana)), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    expect(o.header.stanzas.map((s) => s.label)).toEqual([w.serial, serial2]);
  });

  it('leaves the message alone when sealing was not asked for', async () => {
    const c = fakeCompose([{ name: 'x.txt', data: new Uint8Array(10) }], async () => null);
    expect(await beforeSend(c.deps, 1, {})).toEqual({});
    expect([...c.atts.values()].map((f) => f.name)).toEqual(['x.txt']);
  });

  it('cancels with a notice, and touches nothing, when sealing was asked for and fails', async () => {
    const cases: [string, ComposeDeps['plan'], { getFile?: boolean }?][] = [
      ['expired build', async () => dedicatedPlan(w.erin, undefined)],
      ['unstamped template', async () => dedicatedPlan(null, undefined)],
      ['locked card', (_t, d) => purchaserPlan(d, { 'dana@example.test': { kind: 'code', label: w.serial } }, undefined, async () => { throw new Error('the card is locked'); })],
      ['a recipient without a code', (_t, d) => purchaserPlan({ ...d, to: ['dana@example.test', 'zoe@example.test'] }, { 'dana@example.test': { kind: 'code', label: w.serial } }, undefined, async () => aliceParty(w))],
      ['an attachment that cannot be read', async () => dedicatedPlan(w.dana, undefined), { getFile: true }],
      ['a party that refuses the recipient', async (): Promise<SealPlan> => ({ ...dedicatedPlan(w.dana, undefined)!, recipients: [{ kind: 'code', label: 'OTHER' }] })],
    ];
    for (const [what, plan, fail] of cases) {
      const c = fakeCompose([{ name: 'x.txt', data: new Uint8Array(10) }, { name: 'y.txt', data: new Uint8Array(3) }], plan, fail);
      const r = await beforeSend(c.deps, 1, { to: ['dana@example.test'] });
      expect(r, what).toEqual({ cancel: true });
      expect(c.notices, what).toHaveLength(1);
      expect([...c.atts.values()].map((f) => f.name), what).toEqual(['x.txt', 'y.txt']);
      expect(c.outcomes[0], what).toMatchObject({ cancelled: true, sealed: false });
    }
  });
});

describe('whom to seal for', () => {
  it('reads addresses from To, Cc and Bcc, lower-cased and once each', () => {
    expect(addressesOf({ to: ['Dana <Dana@Example.test>'], cc: ['dana@example.test'], bcc: ['x@y.test', { id: 'c1', type: 'contact' }] })).toEqual(['dana@example.test', 'x@y.test']);
  });
  it('purchaser: seals only when asked (or a remembered code), and names who lacks one', async () => {
    const party = async () => aliceParty(w);
    expect(await purchaserPlan({ to: ['a@x.test'] }, {}, undefined, party)).toBeNull();
    await expect(purchaserPlan({ to: ['a@x.test'] }, {}, true, party)).rejects.toThrow(/a@x\.test/);
    await expect(purchaserPlan({}, {}, true, party)).rejects.toThrow(/no recipients/);
  });
  it('dedicated: one party, its purchaser; refused after expiry with the reason', () => {
    const p = dedicatedPlan(w.dana, undefined)!;
    expect(p.recipients).toEqual([{ kind: 'code', label: w.serial }]);
    expect(dedicatedPlan(w.dana, false)).toBeNull();
    let err: unknown;
    try {
      dedicatedPlan(w.erin, undefined);
    } catch (e) {
      err = e;
    }
    expect(isSealError(err, 'EXPIRED')).toBe(true);
    expect((err as Error).message).toMatch(/expired on \d{4}-\d\d-\d\d/);
  });
});

describe('verdicts for the banner', () => {
  const data = new Uint8Array(70_000).map((_, i) => (i * 13) % 256);
  const dana = () => buildParty(profileSecrets(w.dana));
  const blob = (b: Uint8Array) => new Blob([b as BlobPart]);

  it('certified: says who sealed it, and hands out the file only after verification', async () => {
    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], data, 'r.bin');
    const j = await judge(blob(s), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(j.view).toMatchObject({ kind: 'certified', origin: 'card', file: { name: 'r.bin', size: data.length } });
    expect(j.view.sealedBy).toContain(w.alice.data.cardId);
    expect(sha(new Uint8Array(await j.content!.arrayBuffer()))).toBe(sha(data));
  });

  it('tampered anywhere: tampered (or damaged), never any content', async () => {
    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], data, 'r.bin');
    for (const at of [20, 200, Math.floor(s.length / 2), s.length - 70, s.length - 1]) {
      const t = Buffer.from(s);
      t[at]! ^= 1;
      const j = await judge(blob(t), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
      expect(['tampered', 'damaged'], `byte ${at}`).toContain(j.view.kind);
      expect(j.content).toBeUndefined();
    }
    const cut = await judge(blob(s.subarray(0, s.length - 100)), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(cut.view.kind).toBe('tampered');
    // Cut inside the header: damaged. Not a container at all, or a format version this
    // sealcode does not know: unreadable, not "damaged on the way" (keyed and keyless alike).
    expect((await judge(blob(s.subarray(0, 40)), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey })).view.kind).toBe('damaged');
    const future = Buffer.from(s);
    future[8] = 99;
    for (const [b, why] of [[new Uint8Array(50), /not a sealcode container/], [future, /unsupported container version 99/]] as const)
      for (const party of [dana(), null]) {
        const j = await judge(blob(b), 'x.seal', { party, issuerPub: w.issuer.publicKey });
        expect(j.view).toMatchObject({ kind: 'error', code: 'UNREADABLE' });
        expect(j.view.reason).toMatch(why);
        expect(j.content).toBeUndefined();
      }
  });

  it('another build of the same code: refused with the reason and who sealed it', async () => {
    const s = await sealWith(buildParty(profileSecrets(w.danaCopy)), [{ kind: 'code', label: w.serial }], data, 'r.bin');
    const j = await judge(blob(s), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(j.view.kind).toBe('refused');
    expect(j.view.reason).toMatch(/without a copy right/);
    expect(j.view.sealedBy).toContain(w.danaCopy.buildId);
    expect(j.content).toBeUndefined();
  });

  it('not for us, and a locked card: origin still certified keylessly, nothing opened', async () => {
    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.alice.data.codes[2]!.serial }], data, 'r.bin');
    const j = await judge(blob(s), 'r.bin.seal', { party: dana(), issuerPub: w.issuer.publicKey });
    expect(j.view).toMatchObject({ kind: 'not-for-us' });
    expect(j.view.sealedBy).toContain(w.alice.data.cardId);
    const locked = await judge(blob(s), 'r.bin.seal', { party: null, issuerPub: w.issuer.publicKey });
    expect(locked.view).toMatchObject({ kind: 'locked', origin: 'card' });
    expect(locked.content).toBeUndefined();
  });

  it('an expired dedicated build refuses to open, saying so', async () => {
    const s = await sealWith(aliceParty(w), [{ kind: 'code', label: w.alice.data.codes[1]!.serial }], data, 'r.bin');
    const j = await judge(blob(s), 'r.bin.seal', { party: buildParty(profileSecrets(w.erin)), issuerPub: fromBase64(w.erin.issuerPublicKey) });
    expect(j.view.kind).toBe('refused');
    expect(j.view.reason).toMatch(/expired/);
  });
});

describe("the add-on's hashes", () => {
  it('held WebCrypto and wasm hashes equal node:crypto', async () => {
    const data = new Uint8Array(3_000_001).map((_, i) => (i * 31) % 256);
    const p = await addonPrimitives();
    const h1 = p.sha256();
    const h2 = heldSubtleHash(p.sha256);
    for (let o = 0; o < data.length; o += 65_537) {
      h1.update(data.subarray(o, o + 65_537));
      h2.update(data.subarray(o, o + 65_537));
    }
    const want = createHash('sha256').update(data).digest('hex');
    expect(Buffer.from(h1.digest()).toString('hex')).toBe(want);
    expect(Buffer.from(await h2.digestAsync!()).toString('hex')).toBe(want);
    expect(Buffer.from(h2.digest()).toString('hex')).toBe(want);
  });
});
