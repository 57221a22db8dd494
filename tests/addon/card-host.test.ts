// The card behind the native-messaging pipe: the protocol's framing and validation, and
// the real `sealcode card host` process speaking it over stdin/stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  FrameDecoder,
  HOST_NAME,
  MAX_MESSAGE,
  encodeFrame,
  errorOf,
  parseRequest,
  remoteParty,
} from '../../card/host-protocol.js';
import { fromBase64, isSealError, openSealed, seal, toBase64, buildParty, profileSecrets, openCardFile, sealCardFile } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { PASSPHRASE, cli, makeAddonWorld, type AddonWorld } from './support/addon-world.js';
import { startHost } from './support/host-process.js';

describe('host protocol', () => {
  it('frames round-trip, also split at every byte', () => {
    const msgs = [{ id: 1, op: 'info' }, { id: 2, op: 'sign', digest: toBase64(new Uint8Array(32)) }];
    const bytes = Buffer.concat(msgs.map((m) => Buffer.from(encodeFrame(m))));
    const dec = new FrameDecoder();
    const got: unknown[] = [];
    for (const b of bytes) got.push(...dec.push(Uint8Array.of(b)));
    expect(got).toEqual(msgs);
    expect(dec.pending).toBe(0);
  });

  it('refuses oversized frames both ways and non-JSON frames', () => {
    expect(() => encodeFrame({ x: 'a'.repeat(MAX_MESSAGE) })).toThrow(/exceeds/);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, MAX_MESSAGE + 1, true);
    expect(() => new FrameDecoder().push(big)).toThrow(/exceeds/);
    const junk = new Uint8Array(7);
    new DataView(junk.buffer).setUint32(0, 3, true);
    junk.set([0x7b, 0x7b, 0x7b], 4);
    expect(() => new FrameDecoder().push(junk)).toThrow(/not JSON/);
  });

  it('validates every request field', () => {
    const ok = { id: 3, op: 'wrap', spec: { kind: 'code', label: 'X' }, fileKey: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(16)) };
    expect(parseRequest(ok)).toMatchObject({ op: 'wrap' });
    const bad: unknown[] = [
      null,
      [],
      { op: 'info' },
      { id: -1, op: 'info' },
      { id: 1, op: 'format-disk' },
      { ...ok, fileKey: toBase64(new Uint8Array(31)) },
      { ...ok, salt: '!!!' },
      { ...ok, spec: { kind: 'other', label: 'X' } },
      { id: 1, op: 'unlock', passphrase: 'x', minutes: 0 },
      { id: 1, op: 'unlock', passphrase: 'x', minutes: 100000 },
      { id: 1, op: 'unlock', passphrase: 42 },
      { id: 1, op: 'unwrap', stanzas: 'no' },
      { id: 1, op: 'unwrap', stanzas: [{ kind: 'code', label: 'X', salt: toBase64(new Uint8Array(16)), wrapped: toBase64(new Uint8Array(47)) }] },
      { id: 1, op: 'unwrap', stanzas: Array.from({ length: 65 }, () => ({})) },
      { id: 1, op: 'sign', digest: toBase64(new Uint8Array(64)) },
    ];
    for (const b of bad) expect(() => parseRequest(b), JSON.stringify(b)).toThrow();
  });

  it('maps error answers back to typed errors', () => {
    expect(isSealError(errorOf({ code: 'BAD_PASSPHRASE', message: 'x' }), 'BAD_PASSPHRASE')).toBe(true);
    expect(errorOf({ code: 'LOCKED', message: 'locked' })).toMatchObject({ name: 'HostError', code: 'LOCKED' });
  });
});

describe('sealcode card host (a real process over stdin/stdout)', () => {
  let dir: string;
  let w: AddonWorld;
  let host: ReturnType<typeof startHost>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-host-'));
    w = await makeAddonWorld(dir);
    host = startHost(w.cardFile);
  });
  afterAll(() => {
    host?.proc.stdin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is locked until unlocked; a wrong passphrase stays locked', async () => {
    expect(await host.call('info')).toEqual({ locked: true, unlockedFor: 0, secret: 'passphrase' });
    await expect(host.call('wrap', { spec: { kind: 'code', label: w.serial }, fileKey: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(16)) })).rejects.toMatchObject({ code: 'LOCKED' });
    await expect(host.call('unlock', { passphrase: 'wrong', minutes: 1 })).rejects.toMatchObject({ code: 'BAD_PASSPHRASE' });
    expect((await host.call('info')).locked).toBe(true);
  }, 30_000);

  it('unlocked, it is a Party: seals for a code with the bulk outside, which the dedicated build opens', async () => {
    const info = await host.call('unlock', { passphrase: PASSPHRASE, minutes: 5 });
    expect(info).toMatchObject({ locked: false, card: { cardId: w.alice.data.cardId, name: 'Alice Example' } });
    expect(info.unlockedFor).toBeGreaterThan(200);
    const party = remoteParty(host.call, fromBase64(info.card!.cert));
    const data = new Uint8Array(3 << 20).map((_, i) => i * 7);
    const parts: Uint8Array[] = [];
    async function* src() {
      yield data;
    }
    for await (const c of seal(src(), { sender: party, recipients: [{ kind: 'code', label: w.serial }], meta: { name: 'x.bin', type: 'application/octet-stream', size: data.length }, primitives: nodePrimitives }))
      parts.push(c.slice());
    async function* sealed() {
      yield Buffer.concat(parts);
    }
    const o = await openSealed(sealed(), { receiver: buildParty(profileSecrets(w.dana)), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    const out: Uint8Array[] = [];
    for await (const c of o.content) out.push(c.slice());
    expect(Buffer.concat(out).equals(Buffer.from(data))).toBe(true);
    expect(o.verdict.sealedBy).toContain(w.alice.data.cardId);
    // No request carried the file: every frame the host answered is small.
    for (const r of host.replies) expect(JSON.stringify(r).length).toBeLessThan(4096);
  }, 30_000);

  it('writes a code handed over back to the card file (given, with the address); later states are kept', async () => {
    const serial = w.alice.data.codes[2]!.serial;
    const before = fs.readFileSync(w.cardFile, 'utf8');
    const r = await host.call('give', { serial, to: 'zoe@example.test' });
    expect(r).toMatchObject({ changed: true, code: { serial, state: 'given', givenTo: 'zoe@example.test' } });
    // On disk, re-sealed with the same passphrase and cost: the card file itself says so now.
    const after = fs.readFileSync(w.cardFile, 'utf8');
    expect(after).not.toBe(before);
    expect(JSON.parse(after).kdf.N).toBe(JSON.parse(before).kdf.N);
    const data = await openCardFile(after, PASSPHRASE);
    expect(data.codes.find((c) => c.serial === serial)).toMatchObject({ state: 'given', givenTo: 'zoe@example.test' });
    expect((await host.call('codes')).codes.find((c) => c.serial === serial)).toMatchObject({ state: 'given', givenTo: 'zoe@example.test' });
    // The same answer twice writes nothing.
    expect(await host.call('give', { serial, to: 'zoe@example.test' })).toMatchObject({ changed: false });
    expect(fs.readFileSync(w.cardFile, 'utf8')).toBe(after);
    // A code the distributor already marked used stays so.
    data.codes[1]!.state = 'already_used';
    fs.writeFileSync(w.cardFile, await sealCardFile(data, PASSPHRASE, 1 << 14));
    await host.call('unlock', { passphrase: PASSPHRASE, minutes: 5 });
    expect(await host.call('give', { serial: data.codes[1]!.serial, to: 'zoe@example.test' })).toMatchObject({ changed: false, code: { state: 'already_used' } });
    await expect(host.call('give', { serial: 'NOSUCHCODE', to: 'zoe@example.test' })).rejects.toThrow(/no code NOSUCHCODE/);
    await expect(host.call('give', { serial, to: 'not an address' })).rejects.toMatchObject({ code: 'MALFORMED' });
  }, 30_000);

  it('unwraps only what is for the card, lists codes, and locks again', async () => {
    const info = await host.call('info');
    const party = remoteParty(host.call, fromBase64(info.card!.cert));
    expect(await party.unwrap([{ kind: 'code', label: 'NOPE', salt: new Uint8Array(16), wrapped: new Uint8Array(48) }])).toBeNull();
    const codes = await host.call('codes');
    expect(codes.codes.map((c) => c.serial)).toEqual(w.alice.data.codes.map((c) => c.serial));
    expect(codes.distributorUrl).toBe('https://distributor.example.test/redeem');
    expect(codes.groupId).toBe(w.alice.data.groupId);
    expect((await host.call('lock')).locked).toBe(true);
    await expect(host.call('give', { serial: w.serial, to: 'dana@example.test' })).rejects.toMatchObject({ code: 'LOCKED' });
    await expect(host.call('sign', { digest: toBase64(new Uint8Array(32)) })).rejects.toMatchObject({ code: 'LOCKED' });
  }, 30_000);

  it('answers a malformed request with an error and keeps serving', async () => {
    host.raw(encodeFrame({ id: 999, op: 'format-disk' }));
    expect(await host.call('info')).toMatchObject({ locked: true });
    expect(host.replies).toContainEqual(expect.objectContaining({ id: 999, ok: false }));
  });

  it('stops on a broken frame without crashing', async () => {
    const h = startHost(w.cardFile);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, 0x7fffffff, true);
    h.raw(big);
    const code = await new Promise<number | null>((res) => {
      h.proc.on('exit', (c) => res(c));
      setTimeout(() => h.proc.stdin.end(), 500);
    });
    expect(code).toBe(0);
    expect(h.replies).toContainEqual(expect.objectContaining({ id: -1, ok: false }));
  }, 30_000);
});

describe('sealcode card host --install', () => {
  it('writes the manifest for Thunderbird and a launcher naming node absolutely', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-install-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const card = path.join(dir, 'c.card');
    fs.writeFileSync(card, '{}');
    const r = await cli(['card', 'host', '--install', '--card', card, '--json'], { HOME: dir });
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, '.mozilla', 'native-messaging-hosts', `${HOST_NAME}.json`), 'utf8'));
    expect(manifest).toMatchObject({ name: HOST_NAME, type: 'stdio', allowed_extensions: ['purchaser@sealcode.example'] });
    const launcher = fs.readFileSync(manifest.path, 'utf8');
    expect(launcher).toContain(`'${process.execPath}'`);
    expect(launcher).toContain(`'${card}'`);
    expect(fs.statSync(manifest.path).mode & 0o111).not.toBe(0);
    const missing = await cli(['card', 'host', '--install', '--card', path.join(dir, 'none.card')], { HOME: dir });
    expect(missing.code).toBe(2);
  }, 30_000);
});
