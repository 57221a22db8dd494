// A big attachment through compose and Thunderbird's own SMTP send, with sealing on: the
// picked file (disk-backed) replaced by its sealed container in onBeforeSend, then
// Thunderbird writes the message and sends it to the SMTP sink. Sizes from
// SEALCODE_SEND_MB (comma-separated MiB, default 200).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { openSealed } from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { aliceParty, dedicatedTestXpi, makeAddonWorld, type AddonWorld } from './support/addon-world.js';
import { KEEP_AWAKE, runThunderbird, stepResult, withReportServer } from './support/run-thunderbird.js';
import { MB } from './support/memory.js';

const SIZES = (process.env.SEALCODE_SEND_MB ?? '200').split(',').map(Number);
/**
 * The sink's SMTP SIZE: a 200 MiB file makes a ~287 MB message, above the shared sink's
 * 200 MiB default, which Thunderbird refuses to start sending (SEALCODE_SEND_SINK_MB=200 shows it).
 */
const SINK_MB = Number(process.env.SEALCODE_SEND_SINK_MB ?? 1024);
let dir: string;
let w: AddonWorld;
let dc: Dovecot;
let sink: SmtpSink;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealcode-send-big-'));
  w = await makeAddonWorld(dir);
  [dc, sink] = await Promise.all([startDovecot({ users: [{ user: 'dana@example.test', pass: 'pw' }] }), startSmtpSink({ serverOptions: { size: SINK_MB * MB } })]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([dc?.dispose(), sink?.stop()]);
  if (dir && !process.env.SEALCODE_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a big attachment sealed on send and sent by Thunderbird itself', () => {
  it(`${SIZES.join(', ')} MiB: compose seals, Thunderbird sends, the sink gets a container that opens`, async () => {
    const r = await withReportServer(async (rs) =>
      runThunderbird({
        rs,
        timeoutMs: 900_000,
        xpi: await dedicatedTestXpi(
          path.join(dir, 'dana.xpi'),
          w.dana,
          rs.url,
          SIZES.map((mb) => ({ op: 'sendBig', mb, to: 'alice@example.test', subject: `big ${mb}`, seal: true, timeoutS: Number(process.env.SEALCODE_SEND_TIMEOUT_S ?? 600) })),
        ),
        profile: {
          dir: path.join(dir, 'tb-dana'),
          imap: { host: dc.host, port: dc.port, user: 'dana@example.test', pass: 'pw' },
          smtp: { host: sink.host, port: sink.port },
          identity: { name: 'Dana', email: 'dana@example.test' },
          // Headless, nobody can answer "this message is large, send anyway?".
          prefs: {
            'mailnews.message_warning_size': 0,
            ...KEEP_AWAKE,
            // What Thunderbird's own send says about itself, on its console (SEALCODE_TB_VERBOSE=1 shows it).
            'mailnews.send.loglevel': 'All',
            'mailnews.smtp.loglevel': 'All',
            'devtools.console.stdout.chrome': true,
          },
        },
      }),
    );
    console.log(r.log);
    for (const [i, mb] of SIZES.entries()) {
      const s = stepResult(r, 'sendBig', i);
      console.log(`send ${mb} MiB: ${JSON.stringify(s)}`);
      expect(s.sendError).toBeNull();
      expect(s.outcome).toMatchObject({ sealed: true, cancelled: false });
      const raw = sink.messages.find((m) => m.raw.includes(`Subject: big ${mb}`))?.raw;
      expect(raw, `the sink got "big ${mb}"`).toBeDefined();
      const m = await simpleParser(raw!);
      expect(m.attachments.map((a) => a.filename)).toEqual(['big.bin.seal']);
      // Random bytes, so the proof is that Alice's card opens it whole, signature verified.
      let n = 0;
      const o2 = await openSealed(
        (async function* () {
          const c = m.attachments[0]!.content;
          for (let o = 0; o < c.length; o += MB) yield new Uint8Array(c.subarray(o, o + MB));
        })(),
        { receiver: aliceParty(w), issuerPub: w.issuer.publicKey, primitives: nodePrimitives },
      );
      for await (const c of o2.content) n += c.length;
      expect(n).toBe(mb * MB);
      expect(s.size).toBe(mb * MB);
    }
  }, 1_000_000);
});
