// SHA-256 on a second core, for the payload hash of big containers: the main thread
// copies each piece into a shared ring (a memcpy) while a worker hashes the previous
// one, so AES-GCM and SHA-256 run side by side. Synchronous to its caller, like
// node:crypto's Hash: update() blocks only when the ring is full, digest() until the
// worker has caught up. Node-only. Any number of hashes may be under way at once: each
// ring entry names its hash, and a hash dropped without digest() is freed on the worker
// when the main side is garbage-collected.
import { Worker } from 'node:worker_threads';
import type { IncrementalHash } from './primitives.js';

const SLOT = 1 << 20;
const SLOTS = 4;
const DIGEST = -1;
const DROP = -2;
// A worker that stops answering must not hang its caller for ever.
const STALL_MS = 60_000;

// Plain CommonJS run with eval, so it works from tsx, tsc output and bundles alike.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ctrl, data, out, SLOT, SLOTS } = workerData;
const state = new Int32Array(ctrl, 0, SLOTS);
const lens = new Int32Array(ctrl, SLOTS * 4, SLOTS);
const ids = new Int32Array(ctrl, SLOTS * 8, SLOTS);
const bytes = new Uint8Array(data);
const result = new Uint8Array(out);
const hashes = new Map();
let i = 0;
for (;;) {
  Atomics.wait(state, i, 0);
  const n = lens[i];
  const id = ids[i];
  let h = hashes.get(id);
  if (!h && n >= 0) hashes.set(id, (h = createHash('sha256')));
  if (n === ${DIGEST}) { result.set(h ? h.digest() : createHash('sha256').digest()); hashes.delete(id); }
  else if (n === ${DROP}) hashes.delete(id);
  else h.update(bytes.subarray(i * SLOT, i * SLOT + n));
  Atomics.store(state, i, 0);
  Atomics.notify(state, i);
  i = (i + 1) % SLOTS;
}
`;

interface Shared {
  state: Int32Array;
  lens: Int32Array;
  ids: Int32Array;
  bytes: Uint8Array;
  result: Uint8Array;
  next: number;
  lastId: number;
  dropped: FinalizationRegistry<number>;
}

let shared: Shared | null | undefined;

function start(): Shared | null {
  if (shared !== undefined) return shared;
  try {
    const ctrl = new SharedArrayBuffer(SLOTS * 12);
    const data = new SharedArrayBuffer(SLOT * SLOTS);
    const out = new SharedArrayBuffer(32);
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl, data, out, SLOT, SLOTS } });
    w.unref(); // never keeps the process alive; it only ever waits on the ring
    w.on('error', () => {
      shared = null;
    });
    const s: Shared = {
      state: new Int32Array(ctrl, 0, SLOTS),
      lens: new Int32Array(ctrl, SLOTS * 4, SLOTS),
      ids: new Int32Array(ctrl, SLOTS * 8, SLOTS),
      bytes: new Uint8Array(data),
      result: new Uint8Array(out),
      next: 0,
      lastId: 0,
      dropped: new FinalizationRegistry((id: number) => post(s, id, DROP)),
    };
    shared = s;
  } catch {
    shared = null;
  }
  return shared;
}

function waitFree(s: Shared, i: number): void {
  if (Atomics.wait(s.state, i, 1, STALL_MS) === 'timed-out') throw new Error('SHA-256 worker stalled');
}

function post(s: Shared, id: number, n: number, piece?: Uint8Array): number {
  const i = s.next;
  waitFree(s, i); // the worker frees slots in order
  if (piece) s.bytes.set(piece, i * SLOT);
  s.lens[i] = n;
  s.ids[i] = id;
  Atomics.store(s.state, i, 1);
  Atomics.notify(s.state, i);
  s.next = (i + 1) % SLOTS;
  return i;
}

/** A SHA-256 hashed on the worker, or null when no worker can be had. */
export function threadedSha256(): IncrementalHash | null {
  const s = start();
  if (!s) return null;
  const id = (s.lastId = (s.lastId % 0x7fffffff) + 1);
  let done = false;
  const h: IncrementalHash = {
    update(d) {
      if (done) throw new Error('hash already finished');
      for (let o = 0; o < d.length; o += SLOT) post(s, id, Math.min(SLOT, d.length - o), d.subarray(o, Math.min(o + SLOT, d.length)));
    },
    digest() {
      if (done) throw new Error('hash already finished');
      done = true;
      s.dropped.unregister(h);
      waitFree(s, post(s, id, DIGEST));
      return s.result.slice();
    },
  };
  s.dropped.register(h, id, h);
  return h;
}
