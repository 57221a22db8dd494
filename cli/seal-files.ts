// Sealing and opening files on disk, the fast way: file handles read straight into the
// library's buffers (PullSource), buffers are recycled (reuseBuffers), and each write
// overlaps the sealing of the next chunk. The output goes to a temporary file in the
// destination folder, is flushed to disk, and is renamed into place only after the
// whole container was written or (opening) authenticated and certified; on any error
// it is removed, so a refused or tampered input leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { SealError } from '../card/errors.js';
import { seal, type SealOptions } from '../card/container/seal.js';
import { openSealed, type OpenAsOptions } from '../card/container/open.js';
import type { FileMeta } from '../card/container/meta.js';
import type { Header } from '../card/container/header.js';
import type { Verdict } from '../card/policy.js';
import type { PullSource } from '../card/container/source.js';
import { nodePrimitives } from '../card/node.js';
import { discard, tempBeside } from './files.js';

export type Progress = (bytesDone: number, total: number) => void;

export interface SealFileOptions extends Omit<SealOptions, 'meta' | 'primitives' | 'reuseBuffers'> {
  /** Defaults: the input's base name, application/octet-stream, its size. */
  meta?: Partial<Omit<FileMeta, 'size'>>;
  primitives?: SealOptions['primitives'];
  /** Replace an existing output file (default: refuse with USAGE). */
  overwrite?: boolean;
  /** Flush the output to disk before renaming it into place (default true). */
  fsync?: boolean;
  onProgress?: Progress;
}

export interface OpenFileOptions extends Omit<OpenAsOptions, 'primitives' | 'reuseBuffers' | 'sizeHint'> {
  primitives?: OpenAsOptions['primitives'];
  overwrite?: boolean;
  fsync?: boolean;
  onProgress?: Progress;
}

export interface OpenFileResult {
  header: Header;
  verdict: Verdict;
  meta: FileMeta;
  /** Where the plaintext was written. */
  path: string;
}

const usage = (msg: string): SealError => new SealError('USAGE', msg);

async function openInput(file: string): Promise<{ fh: fs.promises.FileHandle; size: number }> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch {
    throw usage(`cannot read ${file}`);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw usage(`${file} is not a regular file`);
  }
  return { fh, size: st.size };
}

function pullFrom(fh: fs.promises.FileHandle, total: number, onProgress?: Progress): PullSource {
  let done = 0;
  return {
    async read(into) {
      const { bytesRead } = await fh.read(into, 0, into.length, null);
      done += bytesRead;
      onProgress?.(done, total);
      return bytesRead;
    },
  };
}

function checkTarget(target: string, overwrite: boolean): void {
  if (!fs.existsSync(path.dirname(path.resolve(target)))) throw usage(`the folder of ${target} does not exist`);
  if (!overwrite && fs.existsSync(target)) throw usage(`${target} already exists`);
}

/**
 * Writes chunks to a new temporary file beside `target` with one write in flight while
 * the next chunk is produced (which is what reuseBuffers requires), then fsyncs and
 * moves it into place. Without `overwrite`, a target that appeared meanwhile is kept.
 */
async function writeAtomically(target: string, chunks: AsyncIterable<Uint8Array>, overwrite: boolean, durable: boolean): Promise<void> {
  const temp = tempBeside(target);
  let fh: fs.promises.FileHandle | null = null;
  let inFlight: Promise<unknown> = Promise.resolve();
  try {
    fh = await fs.promises.open(temp, 'wx', 0o600);
    const out = fh;
    for await (const c of chunks) {
      await inFlight;
      inFlight = out.write(c, 0, c.length, null);
    }
    await inFlight;
    if (durable) await fh.sync();
    await fh.close();
    fh = null;
    if (overwrite) fs.renameSync(temp, target);
    else {
      // link() fails if the target exists: no window in which another file is replaced.
      try {
        fs.linkSync(temp, target);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw usage(`${target} already exists`);
        // Filesystems without hard links: check, then rename (a small window, as with cp -n).
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
        if (fs.existsSync(target)) throw usage(`${target} already exists`);
        fs.renameSync(temp, target);
      }
    }
  } catch (e) {
    await inFlight.catch(() => undefined);
    if (fh) await fh.close().catch(() => undefined);
    discard(temp);
    throw e;
  }
  discard(temp); // after a link the temporary name goes; after a rename it is already gone
  if (!durable) return;
  const dir = await fs.promises.open(path.dirname(path.resolve(target)), 'r').catch(() => null);
  if (dir) await dir.sync().catch(() => undefined).finally(() => dir.close());
}

/** Seals `inPath` into the container file `outPath`. */
export async function sealFile(inPath: string, outPath: string, o: SealFileOptions): Promise<FileMeta> {
  checkTarget(outPath, o.overwrite ?? false);
  const { fh, size } = await openInput(inPath);
  try {
    const meta: FileMeta = {
      name: o.meta?.name ?? path.basename(inPath),
      type: o.meta?.type ?? 'application/octet-stream',
      size,
    };
    o.onProgress?.(0, size);
    const { onProgress, overwrite, fsync, ...rest } = o;
    const chunks = seal(pullFrom(fh, size, onProgress), {
      ...rest,
      meta,
      primitives: o.primitives ?? nodePrimitives,
      reuseBuffers: true,
    });
    await writeAtomically(outPath, chunks, overwrite ?? false, fsync ?? true);
    return meta;
  } finally {
    await fh.close();
  }
}

/**
 * Opens the container `inPath` as `o.receiver`. `outPath` may be a function of the
 * authenticated metadata (e.g. to use the sealed file name); it is called only after
 * the header is authentic and the sender certified.
 */
export async function openFile(
  inPath: string,
  outPath: string | ((meta: FileMeta) => string),
  o: OpenFileOptions,
): Promise<OpenFileResult> {
  if (typeof outPath === 'string') checkTarget(outPath, o.overwrite ?? false);
  const { fh, size } = await openInput(inPath);
  try {
    o.onProgress?.(0, size);
    const { onProgress, overwrite, fsync, ...rest } = o;
    const opened = await openSealed(pullFrom(fh, size, onProgress), {
      ...rest,
      primitives: o.primitives ?? nodePrimitives,
      reuseBuffers: true,
      sizeHint: size,
    });
    const target = typeof outPath === 'string' ? outPath : outPath(opened.meta);
    try {
      if (typeof outPath !== 'string') checkTarget(target, overwrite ?? false);
    } catch (e) {
      await opened.content.return(undefined);
      throw e;
    }
    await writeAtomically(target, opened.content, overwrite ?? false, fsync ?? true);
    return { header: opened.header, verdict: opened.verdict, meta: opened.meta, path: target };
  } finally {
    await fh.close();
  }
}
