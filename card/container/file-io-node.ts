// Positional file I/O for the Node file path (file-node.ts): whole reads and writes by
// position, synchronous or on libuv's thread pool, and the two-slot pipeline that keeps
// a read ahead and a write behind in flight while the main thread works on a chunk.
import fs from 'node:fs';

/** Reads until `into` is full or the file ends; the number of bytes read. */
export function preadFull(fd: number, into: Uint8Array, pos: number): number {
  let off = 0;
  while (off < into.length) {
    const n = fs.readSync(fd, into, off, into.length - off, pos + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

export function pwriteFull(fd: number, data: Uint8Array, pos: number): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off, pos + off);
}

// The same on libuv's thread pool: the kernel's copies (~0.3 CPU s/GB) then run beside
// AES-GCM and SHA-256 on the main thread, on threads that cost no V8 isolate.
export function readAt(fd: number, into: Uint8Array, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const more = (): void =>
      fs.read(fd, into, off, into.length - off, pos + off, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (n === 0 || off === into.length) resolve(off);
        else more();
      });
    if (into.length === 0) resolve(0);
    else more();
  });
}

export function writeAt(fd: number, data: Uint8Array, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const more = (): void =>
      fs.write(fd, data, off, data.length - off, pos + off, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (off === data.length) resolve();
        else more();
      });
    if (data.length === 0) resolve();
    else more();
  });
}

/**
 * Two slots of a read → transform → write pipeline: chunk k+1 is read and chunk k-1
 * written on the thread pool while chunk k is transformed here. Every operation still
 * in flight is awaited before settle() returns, so a failure never leaves a read or
 * write running against a descriptor the caller is about to close.
 */
export class Pipeline {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly writes: (Promise<void> | null)[] = [null, null];

  /** Tracks an operation started now (a read, a chunk on the pool); awaiting it later surfaces its error. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const drop = (): void => void this.pending.delete(p);
    p.then(drop, drop);
    return p;
  }

  /** Waits until the write that last used slot `k & 1` is done, so its buffer may be reused. */
  async free(k: number): Promise<void> {
    await this.writes[k & 1];
  }

  write(k: number, fd: number, data: Uint8Array, pos: number): void {
    this.writes[k & 1] = this.track(writeAt(fd, data, pos));
  }

  async drain(): Promise<void> {
    await Promise.all(this.writes);
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

export type Pair = [Uint8Array, Uint8Array];
export const pair = (n: number): Pair => [new Uint8Array(n), new Uint8Array(n)];
/** The buffer of a pair that chunk k uses. */
export const slot = (b: Pair, k: number): Uint8Array => (k & 1 ? b[1] : b[0]);
