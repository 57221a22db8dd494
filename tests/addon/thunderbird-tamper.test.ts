// Damage that only the end of a file reveals, in real Thunderbird (issue 10 item 6): the
// add-on decrypts a multi-chunk attachment chunk by chunk into a Blob, so every chunk but
// the last authenticates before anything is wrong. A file whose only change is in its last
// chunk, and one whose only change is in the sender's signature after it, must still read
// as tampered with no Open/Save and no plaintext handed out (not even through Save after a
// suspension, which recomputes). The intact file beside them opens to the same bytes.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildParty, openSealed, profileSecrets, SealError } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { patternBytes } from '../../thunderbird-addon/lib/pattern.js';
import { aliceParty, dedicatedTestXpi, mail, makeAddonWorld, sealWith, type AddonWorld } from './support/addon-world.js';
import { runThunderbird, stepResult, withReportServer, type RunResult } from './support/run-thunderbird.js';

const MB = 1 << 20;
const SIG_LEN = 64;
// Seven 1 MiB chunks: six that authenticate, then the short last one.
const plain = patternBytes(6 * MB + 12_345, 41);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const S = { intact: 'intact', lastChunk: 'changed in the last chunk', signature: 'changed in the signature' };
const DANA = 'dana@example.test';

let dir: string;
let w: AddonWorld;
let dc: Dovecot;
let sealed: Buffer;
let run: RunResult;

const flipped = (at: number): Buffer => {
  const t = Buffer.from(sealed);
  t[at]! ^= 0x01;
  return t;
};
const lastChunk = () => flipped(sealed.length - SIG_LEN - 5);
const signature = () => flipped(sealed.length - 1);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-addon-tamper-'));
  w = await makeAddonWorld(dir);
  dc = await startDovecot({ users: [{ user: DANA, pass: 'pw' }] });
  sealed = await sealWith(aliceParty(w), [{ kind: 'code', label: w.serial }], plain, 'big.bin');
  const put = async (subject: string, content: Buffer) =>
    dc.append(DANA, await mail({ from: 'Alice Example <alice@example.test>', to: DANA, subject, attachments: [{ filename: 'big.bin.seal', content }] }));
  await put(S.intact, sealed);
  await put(S.lastChunk, lastChunk());
  await put(S.signature, signature());
}, 120_000);

afterAll(async () => {
  await dc?.dispose();
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

/** Chunks a plain open yields before it throws, and what it throws. */
async function nodeOpen(bytes: Buffer): Promise<{ chunks: number; error: unknown }> {
  async function* src() {
    yield bytes;
  }
  let chunks = 0;
  try {
    const o = await openSealed(src(), { receiver: buildParty(profileSecrets(w.dana)), issuerPub: w.issuer.publicKey, primitives: nodePrimitives });
    for await (const _ of o.content) chunks++;
    return { chunks, error: null };
  } catch (error) {
    return { chunks, error };
  }
}

describe('damage at the very end of a multi-chunk attachment, in real Thunderbird', () => {
  it('the damage is only at the end: every chunk before it authenticates', async () => {
    for (const bytes of [lastChunk(), signature()]) {
      const r = await nodeOpen(bytes);
      expect(r.error).toBeInstanceOf(SealError);
      expect((r.error as SealError).code).toBe('TAMPERED');
      // The first six chunks were handed on before the failure: the caller must hold them back.
      expect(r.chunks).toBeGreaterThanOrEqual(6);
    }
  });

  it('the dedicated build shows both as tampered, with no Open/Save and no file; the intact one opens to the same bytes', async () => {
    const subjects = [S.intact, S.lastChunk, S.signature];
    run = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        xpi: await dedicatedTestXpi(path.join(dir, 'dana.xpi'), w.dana, rs.url, [
          { op: 'waitInbox', count: 3 },
          { op: 'verdicts' },
          ...subjects.map((subject) => ({ op: 'display', subject })),
          ...subjects.map((subject) => ({ op: 'openButton', subject })),
          // Save after a suspension: the file is recomputed from the message, then handed out or not.
          ...subjects.map((subject) => ({ op: 'saveAfterSuspend', subject })),
        ]),
        timeoutMs: 240_000,
        profile: { dir: path.join(dir, 'tb-dana'), imap: { host: dc.host, port: dc.port, user: DANA, pass: 'pw' }, identity: { name: 'Dana', email: DANA } },
      }),
    );
    const all = stepResult(run, 'verdicts') as { subject: string; views: any[]; files: any[] }[];
    const of = (s: string) => all.find((x) => x.subject === s)!;

    expect(of(S.intact).views[0]).toMatchObject({ kind: 'certified', file: { name: 'big.bin', size: plain.length } });
    expect(of(S.intact).files[0]).toEqual({ name: 'big.bin', size: plain.length, sha256: sha(plain) });
    const intact = stepResult(run, 'display', 0).banner as string;
    expect(intact).toContain('Certified: big.bin comes from the card of Alice Example');
    // The buttons are in the banner's text when offered: their absence below means something.
    expect(intact).toMatch(/\bOpen\b/);
    expect(intact).toMatch(/\bSave\b/);
    expect(stepResult(run, 'openButton', 0)).toMatchObject({ opened: true });
    expect(stepResult(run, 'saveAfterSuspend', 0).file).toEqual({ name: 'big.bin', size: plain.length, sha256: sha(plain) });

    [S.lastChunk, S.signature].forEach((s, k) => {
      const i = k + 1;
      expect(of(s).views[0], s).toMatchObject({ kind: 'tampered' });
      expect(of(s).views[0].file, s).toBeUndefined();
      expect(of(s).files[0], s).toBeNull();
      const banner = stepResult(run, 'display', i).banner as string;
      expect(banner, s).toContain('Tampered: big.bin was changed after it was sealed.');
      expect(banner, s).not.toMatch(/\bOpen\b|\bSave\b/);
      expect(stepResult(run, 'openButton', i), s).toMatchObject({ opened: false });
      expect(stepResult(run, 'saveAfterSuspend', i).file, s).toBeNull();
    });
    console.log(`tamper run: ${run.seconds.toFixed(1)} s`);
  }, 300_000);
});
