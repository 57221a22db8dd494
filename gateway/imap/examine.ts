// One message, from source to verdict: the MIME walk (walk.ts), the keyless check of
// every seal it finds (certify.ts) and the decision (verdict.ts). A small message is
// walked in memory and its seals go to the certify pool; a large one is walked as it
// streams in and each seal is certified while it is decoded, with back-pressure, so
// neither the message nor a seal is ever held whole. Both use the same walk and the
// same decision: the verdict cannot depend on the size.
import type { StatusList } from '../../card/index.js';
import type { MailboxOwner } from '../../card/owner.js';
import { certifyStream } from '../certify.js';
import { decide, type Limits, type MessageVerdict } from '../verdict.js';
import type { CertifyPool } from './certify-pool.js';
import type { PartResult } from './certify-worker.js';
import { MimeWalker, collectingSink, walkSource, type Leaf, type SealSink, type WalkResult } from './walk.js';

export interface CheckContext {
  issuerPub: Uint8Array;
  status?: StatusList;
  owner?: MailboxOwner;
  limits: Limits;
}

export interface Examined {
  walk: WalkResult;
  results: PartResult[];
  /** Undefined: plain mail (no seal, no limit reached). */
  verdict?: MessageVerdict;
}

function conclude(walk: WalkResult, results: PartResult[], limits: Limits): Examined {
  const verdict = decide({ seals: results, unsealed: walk.unsealed.length, exceeded: walk.exceeded }, limits);
  return { walk, results, verdict };
}

export async function examineSource(source: Buffer, ctx: CheckContext, pool: CertifyPool): Promise<Examined> {
  const sinks: ReturnType<typeof collectingSink>[] = [];
  const walk = await walkSource(source, ctx.limits, () => {
    const s = collectingSink();
    sinks.push(s);
    return s;
  });
  const kept = sinks.filter((s) => !s.aborted);
  const inputs = walk.seals.map((leaf, i) => ({ part: leaf.part, filename: leaf.filename, data: kept[i]!.data() }));
  const results = inputs.length ? await pool.run(inputs, ctx.status, ctx.owner) : [];
  return conclude(walk, results, ctx.limits);
}

/** Decoded bytes queued for the certifier at most; the walk waits beyond it. */
const HIGH_WATER = 1024 * 1024;

/** A seal's decoded bytes on their way from the walk to certifyStream. */
class SealChannel implements SealSink, AsyncIterable<Uint8Array> {
  private q: Buffer[] = [];
  private qBytes = 0;
  private ended = false;
  private gone = false;
  aborted = false;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  async write(b: Buffer): Promise<void> {
    if (this.gone) return;
    this.q.push(b);
    this.qBytes += b.length;
    this.wake('reader');
    if (this.qBytes > HIGH_WATER) await new Promise<void>((r) => (this.wakeWriter = r));
  }

  end(): void {
    this.ended = true;
    this.wake('reader');
  }

  abort(): void {
    this.aborted = true;
    this.end();
  }

  /** The certifier is done (finished early on a bad container, or failed): drop the rest. */
  close(): void {
    this.gone = true;
    this.q = [];
    this.qBytes = 0;
    this.wake('writer');
  }

  private wake(who: 'reader' | 'writer'): void {
    const w = who === 'reader' ? this.wakeReader : this.wakeWriter;
    if (who === 'reader') this.wakeReader = undefined;
    else this.wakeWriter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const b = this.q.shift();
        if (b) {
          this.qBytes -= b.length;
          if (this.qBytes <= HIGH_WATER) this.wake('writer');
          yield b;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((r) => (this.wakeReader = r));
      }
    } finally {
      this.close();
    }
  }
}

export async function examineStream(stream: AsyncIterable<Uint8Array>, ctx: CheckContext): Promise<Examined> {
  const running: { ch: SealChannel; leaf: Leaf; result: Promise<PartResult> }[] = [];
  const walker = new MimeWalker(ctx.limits, (leaf) => {
    const ch = new SealChannel();
    const result = certifyStream(ch, { issuerPub: ctx.issuerPub, status: ctx.status, owner: ctx.owner }).then(
      (c) => ({ ...c, part: leaf.part, filename: leaf.filename }),
    );
    // Whatever happens to the certifier, the walk must not wait on it.
    void result.then(
      () => ch.close(),
      () => ch.close(),
    );
    running.push({ ch, leaf, result });
    return ch;
  });
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (!(await walker.write(b))) break;
    }
  } catch (e) {
    // A failed read leaves open seals unfinished: end them, so no certifier waits for ever.
    for (const r of running) r.ch.end();
    throw e;
  }
  const walk = await walker.end();
  const settled = await Promise.allSettled(running.map((r) => r.result));
  const results: PartResult[] = [];
  settled.forEach((s, i) => {
    if (running[i]!.ch.aborted) return;
    if (s.status === 'rejected') throw s.reason;
    results.push(s.value);
  });
  return conclude(walk, results, ctx.limits);
}
