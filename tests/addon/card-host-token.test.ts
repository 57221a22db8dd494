// The card host (a real `sealcode card host` process) with a token card: it tells the
// add-on to ask for a PIN, answers wrong PINs with their own code and the tries left,
// keeps sealcode's lock-out across host processes until the security officer resets it,
// and says so clearly when the token is gone, writing nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../card/host-protocol.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../support/softhsm.js';
import { ROOT, cli } from './support/addon-world.js';

const PIN = '2468';
const hsm = startSoftHsm();
hsm.initToken('tina', PIN);
let dir: string;
const p = (f: string) => path.join(dir, f);

type Reply = { id: number; ok: boolean; result?: any; error?: { code: string; message: string } };

/** One host process; `call` sends a request and waits for its answer. */
function host() {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'sealcode.js'), 'card', 'host', '--card', p('tina.card')], { env: { ...process.env, ...hsm.env } });
  const dec = new FrameDecoder();
  const replies: Reply[] = [];
  proc.stdout.on('data', (b: Buffer) => replies.push(...(dec.push(new Uint8Array(b)) as Reply[])));
  let id = 0;
  const call = async (req: object): Promise<Reply> => {
    const n = ++id;
    proc.stdin.write(encodeFrame({ id: n, ...req }));
    for (let i = 0; i < 400 && !replies.some((r) => r.id === n); i++) await new Promise((res) => setTimeout(res, 25));
    const r = replies.find((x) => x.id === n);
    if (!r) throw new Error(`the host did not answer ${JSON.stringify(req)}`);
    return r;
  };
  return { call, stop: () => proc.stdin.end() };
}
const unlock = (h: ReturnType<typeof host>, pin: string) => h.call({ op: 'unlock', passphrase: pin, minutes: 5 });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-host-token-'));
  const env = { ...hsm.env, SEALCODE_PIN: PIN };
  for (const args of [
    ['init', '--data', p('data')],
    ['admin', 'issue-card', '--data', p('data'), '--name', 'Tina', '--email', 'tina@example.test', '--codes', '1', '--out', p('tina.card'), '--token-module', SOFTHSM_MODULE, '--token-label', 'tina'],
  ]) {
    const r = await cli(args, env);
    if (r.code !== 0) throw new Error(`sealcode ${args.join(' ')}: ${r.stderr}`);
  }
  fs.writeFileSync(p('so.pin'), '87654321\n');
}, 120_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  hsm.cleanup();
});

describe('sealcode card host with a token card', () => {
  it('says the card takes a PIN; counts wrong PINs over several host processes; locks after five until the security officer resets it', async () => {
    const h = host();
    try {
      expect((await h.call({ op: 'info' })).result).toEqual({ locked: true, unlockedFor: 0, secret: 'pin', tokenLabel: 'tina' });
      for (const left of ['4 tries left', '3 tries left']) {
        const r = await unlock(h, '0000');
        expect(r.error?.code).toBe('BAD_PIN');
        expect(r.error?.message).toContain(`wrong PIN for the token "tina" (${left}`);
      }
    } finally {
      h.stop();
    }
    // A new host process (Thunderbird restarted) continues the count: it is kept on the token.
    const h2 = host();
    try {
      for (const left of ['2 tries left', '1 try left', 'sealcode has now locked it']) expect((await unlock(h2, '0000')).error?.message).toContain(left);
      const right = await unlock(h2, PIN);
      expect(right.error).toMatchObject({ code: 'PIN_LOCKED' });
      expect(right.error?.message).toMatch(/locked after 5 wrong PINs: its security officer unlocks it with `sealcode card token-unlock`/);
      expect((await h2.call({ op: 'info' })).result.locked).toBe(true);
      const reset = await cli(['card', 'token-unlock', '--card', p('tina.card'), '--so-pin-file', p('so.pin')], hsm.env);
      expect(reset.code, reset.stderr).toBe(0);
      const ok = await unlock(h2, PIN);
      expect(ok.ok, JSON.stringify(ok.error)).toBe(true);
      expect(ok.result).toMatchObject({ locked: false, secret: 'pin', card: { name: 'Tina', email: 'tina@example.test' } });
    } finally {
      h2.stop();
    }
  }, 60_000);

  it('a token that is gone is a clear NO_TOKEN answer, and the card file is left as it was', async () => {
    const before = fs.readFileSync(p('tina.card'));
    hsm.removeTokens();
    const h = host();
    try {
      const r = await unlock(h, PIN);
      expect(r.error).toMatchObject({ code: 'NO_TOKEN' });
      expect(r.error?.message).toMatch(/no token labelled "tina" in .*libsofthsm2\.so: is it inserted\?/);
      expect((await h.call({ op: 'info' })).result).toMatchObject({ locked: true, secret: 'pin' });
    } finally {
      h.stop();
    }
    expect(fs.readFileSync(p('tina.card')).equals(before)).toBe(true);
  }, 60_000);
});
