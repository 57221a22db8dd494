// SQLite copies its write-ahead log back into the database file in a "checkpoint", by
// default inside whichever COMMIT takes the log past 1000 pages, with two fsyncs: on the
// serving process's event loop. Under bench/distributor that stalled every request of
// the process, about 1 ms a commit on average and over 100 ms at worst, while the
// commit's own CPU was 0.1 ms. A serving process checkpoints from a worker thread on its
// own connection instead (PASSIVE: it never blocks the writer), and takes the automatic
// checkpoint back should that thread ever stop.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface Checkpointer {
  /** Ends the thread after one last checkpoint. */
  stop(): Promise<void>;
}

// CommonJS source for an eval worker: the same code runs from build/ and under tsx,
// where a .ts worker file would not load. better-sqlite3 is resolved here and passed in.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// The driver's errors reach the parent thread without their message: pass it as text.
const guard = (f) => {
  try {
    return f();
  } catch (e) {
    throw new Error(String(e.code ?? '') + ': ' + String(e.message));
  }
};
const db = guard(() => new Database(workerData.file, { fileMustExist: true }));
db.pragma('busy_timeout = 1000');
const checkpoint = () => guard(() => db.pragma('wal_checkpoint(PASSIVE)'));
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * Checkpoints `file` every `everyMs` from a worker thread. `onStopped` runs if the thread
 * ends without being asked to (an error): the caller then checkpoints by itself again.
 */
export function startCheckpointer(file: string, onStopped: (err?: Error) => void, everyMs = 200): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, driver, everyMs } });
  let stopping = false;
  let failure: Error | undefined;
  worker.on('error', (err) => (failure = err));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      if (!stopping) onStopped(failure);
      resolve();
    }),
  );
  // A checkpoint thread alone does not keep a process alive.
  worker.unref();
  return {
    async stop() {
      stopping = true;
      worker.postMessage('stop');
      await exited;
    },
  };
}
