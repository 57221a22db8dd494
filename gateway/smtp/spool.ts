// DATA goes to a spool file as it arrives, never into memory. Past the size limit
// nothing more is written: the rest is read and dropped so the client can be told 552
// at the end of DATA, and the partial file is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { garbageMeter } from '../../card/gc-nudge.js';

export class Spool {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Anything here is from a run that stopped mid-message: the client was never told "accepted". */
  clear(): void {
    for (const f of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
  }

  file(kind: string): string {
    return path.join(this.dir, `${kind}-${Date.now().toString(36)}-${crypto.randomBytes(8).toString('hex')}`);
  }

  /** Writes the stream to a new file; `file` is undefined when the limit was passed. */
  async receive(stream: Readable, limit: number): Promise<{ file?: string; size: number }> {
    const file = this.file('in');
    const fh = await fsp.open(file, 'wx', 0o600);
    const meter = garbageMeter();
    let size = 0;
    let over = false;
    let failed: Error | undefined;
    try {
      for await (const chunk of stream) {
        const c = chunk as Buffer;
        size += c.length;
        meter(c.length);
        if (over || failed) continue;
        if (size > limit) {
          over = true;
          continue;
        }
        // A failed write must not stop the reading: the SMTP dialogue needs the end of DATA.
        try {
          await fh.write(c);
        } catch (e) {
          failed = e as Error;
        }
      }
    } finally {
      await fh.close();
    }
    if (over || failed) {
      await fsp.rm(file, { force: true });
      if (failed) throw failed;
      return { size };
    }
    return { file, size };
  }

  /**
   * SHA-256 of a spooled message, which recognises it when a client retries it. Read back
   * only for a message that stopped the seal worker, so ordinary mail is not hashed.
   */
  async digestOf(file: string): Promise<string> {
    const hash = crypto.createHash('sha256');
    for await (const c of fs.createReadStream(file)) hash.update(c as Buffer);
    return hash.digest('hex');
  }
}
