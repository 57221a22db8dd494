// An optional pool of certify workers. With none (the default on two cores, where the
// IMAP server needs the second one) the work is done on the main thread. If a worker
// cannot start or dies, its work falls back to the main thread: slower, never wrong.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { StatusList } from '../../card/index.js';
import type { MailboxOwner } from '../../card/owner.js';
import { certifyParts, type PartInput, type PartResult, type WorkResult } from './certify-worker.js';

type Pending = { resolve: (r: PartResult[]) => void; reject: (e: Error) => void };

export class CertifyPool {
  private readonly workers: { w: Worker; pending: Map<number, Pending> }[] = [];
  private next = 0;
  private seq = 0;
  private closing = false;

  constructor(
    private readonly issuerPub: Uint8Array,
    private readonly log: Logger,
    size = Math.max(0, Math.min(4, os.availableParallelism() - 2)),
  ) {
    // Under tsx/vitest this module is TypeScript; the built gateway runs the .js twin.
    const ts = import.meta.url.endsWith('.ts');
    const url = new URL(ts ? './certify-worker.ts' : './certify-worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      try {
        const workerData = { sealcodeCertifyWorker: true, issuerPub };
        // TypeScript sources (tests, benchmarks) need tsx's loader inside the worker too.
        const w = ts
          ? new Worker(
              `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); })`,
              { eval: true, workerData },
            )
          : new Worker(url, { workerData });
        const slot = { w, pending: new Map<number, Pending>() };
        w.on('message', (r: WorkResult) => {
          const p = slot.pending.get(r.id);
          slot.pending.delete(r.id);
          // An idle worker must not keep the process alive; a busy one must.
          if (slot.pending.size === 0) w.unref();
          if (r.error !== undefined) p?.reject(new Error(r.error));
          else p?.resolve(r.parts ?? []);
        });
        w.on('error', (e) => this.retire(slot, e));
        w.on('exit', () => this.retire(slot, new Error('certify worker exited')));
        w.unref();
        this.workers.push(slot);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'certify worker not started; certifying on the main thread');
      }
    }
  }

  private retire(slot: (typeof this.workers)[number], e: Error): void {
    const i = this.workers.indexOf(slot);
    if (i < 0) return;
    this.workers.splice(i, 1);
    for (const p of slot.pending.values()) p.reject(e);
    slot.pending.clear();
    if (!this.closing) this.log.warn({ err: e.message }, 'certify worker gone; certifying on the main thread');
  }

  run(parts: PartInput[], status?: StatusList, owner?: MailboxOwner): Promise<PartResult[]> {
    if (this.workers.length === 0) return certifyParts(parts, this.issuerPub, status, owner);
    const slot = this.workers[this.next++ % this.workers.length]!;
    const id = ++this.seq;
    // Copies travel (transferred); the originals stay here for the fallback.
    const copies = parts.map((p) => ({ ...p, data: new Uint8Array(p.data) }));
    const viaWorker = new Promise<PartResult[]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.w.ref();
      slot.w.postMessage({ id, parts: copies, status, owner }, copies.map((p) => p.data.buffer));
    });
    // Whatever went wrong over there (a dead worker included), the main thread decides.
    return viaWorker.catch(() => certifyParts(parts, this.issuerPub, status, owner));
  }

  async close(): Promise<void> {
    this.closing = true;
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((s) => s.w.terminate()));
  }
}
