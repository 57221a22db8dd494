// Worker threads that run the submission rewrite (seal-worker.ts). Jobs wait in line
// for a free worker; a worker that dies (out of its bounded heap, say) fails its job as
// `crashed` — the caller decides whether that message is retried or refused — and is
// replaced on the next job.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CardSecrets } from '../../card/index.js';
import type { SealJob, SealOutcome } from './seal-worker.js';

const YOUNG_GENERATION_MB = 2;

type Slot = { w: Worker; busy?: { id: number; resolve: (o: SealOutcome) => void } };

export class SealPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: { job: SealJob; resolve: (o: SealOutcome) => void }[] = [];
  private seq = 0;
  private closing = false;

  constructor(
    private readonly card: CardSecrets,
    private readonly log: Logger,
    private readonly size: number,
    private readonly heapMb: number,
  ) {}

  private spawn(): Slot {
    // Under tsx/vitest this module is TypeScript; the built gateway runs the .js twin.
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(ts ? './seal-worker.ts' : './seal-worker.js', import.meta.url);
    const workerData = { sealcodeSealWorker: true, card: this.card };
    // The walk makes many short-lived objects (a view per line); left alone, V8 lets the
    // worker's young generation grow to ~48 MB. Bounded, it is collected more often
    // instead. Measured sealing one 40 MB message: the process peaked at 146 MB with 8 MB
    // here, 142 MB with 4 and 135 MB with 2, in about the same time.
    // The old generation is bounded too: a hostile message that needs more memory ends
    // this thread (ERR_WORKER_OUT_OF_MEMORY), not the gateway process.
    const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: this.heapMb };
    const w = ts
      ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData, resourceLimits })
      : new Worker(url, { workerData, resourceLimits });
    const slot: Slot = { w };
    w.on('message', (o: SealOutcome) => {
      const b = slot.busy;
      slot.busy = undefined;
      w.unref();
      if (b && b.id === o.id) b.resolve(o);
      this.pump();
    });
    const gone = (e: Error): void => {
      // 'error' is followed by 'exit': the slot is gone after the first.
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      slot.busy?.resolve({ id: slot.busy.id, ok: false, error: `seal worker stopped: ${e.message}`, temporary: true, crashed: !this.closing });
      slot.busy = undefined;
      if (!this.closing) this.log.error({ err: e.message }, 'seal worker stopped; a new one starts with the next message');
      this.pump();
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`exit code ${code}`)));
    w.unref();
    this.slots.push(slot);
    return slot;
  }

  private pump(): void {
    while (this.waiting.length && !this.closing) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const { job, resolve } = this.waiting.shift()!;
      slot.busy = { id: job.id, resolve };
      slot.w.ref();
      slot.w.postMessage(job);
    }
  }

  run(job: Omit<SealJob, 'id'>): Promise<SealOutcome> {
    if (this.closing) return Promise.resolve({ id: 0, ok: false, error: 'shutting down', temporary: true });
    return new Promise((resolve) => {
      this.waiting.push({ job: { ...job, id: ++this.seq }, resolve });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const q of this.waiting.splice(0)) q.resolve({ id: q.job.id, ok: false, error: 'shutting down', temporary: true });
    await Promise.all(this.slots.splice(0).map((s) => s.w.terminate()));
  }
}
