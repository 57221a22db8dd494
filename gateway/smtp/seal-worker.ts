// The worker thread side of the seal pool: one job at a time, file in, file out, so
// sealing (CPU) and the MIME walk of a large or many-part message never hold up the
// event loop that answers SMTP clients and /healthz.
import { parentPort, workerData } from 'node:worker_threads';
import { cardParty, type CardSecrets, type RecipientSpec } from '../../card/index.js';
import { useNativeEd25519 } from '../native-ed25519.js';
import { Refusal, rewriteMessage, type RewriteLimits, type RewriteResult } from './rewrite.js';

export interface SealJob {
  id: number;
  inFile: string;
  outFile: string;
  tmpDir: string;
  limits: RewriteLimits;
  /** absent: no mapped recipient, copy without a client's X-Sealcode */
  seal?: { recipients: RecipientSpec[]; describe: string };
}

export type SealOutcome =
  | { id: number; ok: true; result: RewriteResult }
  | {
      id: number;
      ok: false;
      refusal?: { code: number; enhanced: string; message: string };
      error?: string;
      temporary?: boolean;
      /** the worker thread died on this job (out of its heap, or any other end) */
      crashed?: boolean;
    };

if (parentPort && workerData?.sealcodeSealWorker) {
  const port = parentPort;
  // The main thread's native Ed25519 is per thread: signing here would fall back to pure JS (~10x slower).
  useNativeEd25519();
  const sender = cardParty(workerData.card as CardSecrets);
  port.on('message', (job: SealJob) => {
    void (async (): Promise<SealOutcome> => {
      try {
        const result = await rewriteMessage(job.inFile, job.outFile, {
          seal: job.seal && { sender, recipients: job.seal.recipients, describe: job.seal.describe },
          limits: job.limits,
          tmpDir: job.tmpDir,
        });
        return { id: job.id, ok: true, result };
      } catch (e) {
        if (e instanceof Refusal) return { id: job.id, ok: false, refusal: { code: e.code, enhanced: e.enhanced, message: e.message } };
        // A system error (disk full, permissions) may pass; anything else would recur on every retry.
        const err = e as NodeJS.ErrnoException;
        return { id: job.id, ok: false, error: err.message, temporary: typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code) };
      }
    })().then((r) => port.postMessage(r));
  });
}
