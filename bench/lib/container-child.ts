// One measured operation per process (so each gets its own peak RSS), bundled by
// bench/container.ts: copy | aes-seal | aes-open | sc-seal | sc-open  IN OUT KEYS_JSON NOW.
// Prints {"seconds", "cpu", "user", ...}: the operation alone, start-up excluded. Outputs stay in the
// page cache (no fsync) like age's and gpg's, except sc-seal-sync / sc-open-sync.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sealFile, openFile } from '../../cli/seal-files.js';
import { partiesOf, type VectorKeys } from '../../tests/vectors/parties.js';
import { fromHex } from '../../card/index.js';
import { useNativeEd25519Signing, useNativeEd25519Verify } from '../../card/ed25519-node.js';

const [op, inPath, outPath, keysPath, nowArg] = process.argv.slice(2) as [string, string, string, string, string];
const MiB = 1 << 20;

/** node:crypto AES-256-GCM over 1 MiB chunks with fs streams, the textbook way. */
async function aes(decrypt: boolean): Promise<void> {
  const key = Buffer.alloc(32, 7);
  let n = 0;
  await pipeline(
    fs.createReadStream(inPath, { highWaterMark: decrypt ? MiB + 16 : MiB }),
    async function* (src: AsyncIterable<Buffer>) {
      for await (const b of src) {
        const iv = Buffer.alloc(12);
        iv.writeUInt32BE(n++, 4);
        if (decrypt) {
          const d = createDecipheriv('aes-256-gcm', key, iv);
          d.setAuthTag(b.subarray(b.length - 16));
          const pt = d.update(b.subarray(0, b.length - 16));
          d.final();
          yield pt;
        } else {
          const c = createCipheriv('aes-256-gcm', key, iv);
          const ct = c.update(b);
          c.final();
          yield Buffer.concat([ct, c.getAuthTag()]);
        }
      }
    },
    fs.createWriteStream(outPath),
  );
}

async function main(): Promise<void> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  if (op === 'copy') {
    await pipeline(fs.createReadStream(inPath), fs.createWriteStream(outPath));
  } else if (op === 'aes-seal') await aes(false);
  else if (op === 'aes-open') await aes(true);
  else {
    // As cli/main.ts does for every command.
    useNativeEd25519Signing();
    useNativeEd25519Verify();
    const keys = JSON.parse(fs.readFileSync(keysPath, 'utf8')) as VectorKeys;
    const p = partiesOf(keys);
    const now = Number(nowArg);
    const fsync = op.endsWith('-sync');
    if (op.startsWith('sc-seal')) {
      const d1 = JSON.parse(fs.readFileSync(keysPath.replace(/keys\.json$/, 'certs.json'), 'utf8')) as { build: { fields: { serial: string } } };
      await sealFile(inPath, outPath, { sender: p.A!, recipients: [{ kind: 'code', label: d1.build.fields.serial }], now, fsync });
    } else if (op.startsWith('sc-open')) {
      await openFile(inPath, outPath, { receiver: p.D1!, issuerPub: fromHex(keys.issuer.public), now, fsync });
    } else throw new Error(`unknown op ${op}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ seconds, cpu: (c.user + c.system) / 1e6, user: c.user / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

await main();
