// Sealing and opening files on disk, the fast way: card/container/file-node.ts reads and
// writes by position into buffers allocated once, with no streams. The output goes to a temporary file in the
// destination folder, is flushed to disk, and is renamed into place only after the
// whole container was written or (opening) authenticated and certified; on any error
// it is removed, so a refused or tampered input leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { SealError } from '../card/errors.js';
import { sealPrelude, type SealOptions } from '../card/container/seal.js';
import { admit, type OpenAsOptions } from '../card/container/open.js';
import type { FileMeta } from '../card/container/meta.js';
import { payloadKey, signedDigest, type Header } from '../card/container/header.js';
import type { IncrementalHash } from '../card/container/primitives.js';
import { FileOpener, checkFileSignature, pwriteFull, readHeaderFromFile, sealChunksToFile } from '../card/container/file-node.js';
import type { Verdict } from '../card/policy.js';
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

function openInput(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw usage(`cannot read ${file}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw usage(`${file} is not a regular file`);
  }
  return { fd, size: st.size };
}

function checkTarget(target: string, overwrite: boolean): void {
  if (!fs.existsSync(path.dirname(path.resolve(target)))) throw usage(`the folder of ${target} does not exist`);
  if (!overwrite && fs.existsSync(target)) throw usage(`${target} already exists`);
}

/**
 * Lets `produce` write a new temporary file beside `target` (positional writes to the
 * descriptor it gets), then fsyncs and moves it into place. Without `overwrite`, a
 * target that appeared meanwhile is kept.
 */
async function writeAtomically(target: string, produce: (fd: number) => Promise<void>, overwrite: boolean, durable: boolean): Promise<void> {
  const temp = tempBeside(target);
  let fd: number | null = null;
  try {
    fd = fs.openSync(temp, 'wx', 0o600);
    await produce(fd);
    if (durable) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
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
    if (fd !== null) fs.closeSync(fd);
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
  const { fd, size } = openInput(inPath);
  try {
    const meta: FileMeta = {
      name: o.meta?.name ?? path.basename(inPath),
      type: o.meta?.type ?? 'application/octet-stream',
      size,
    };
    o.onProgress?.(0, size);
    const { onProgress, overwrite, fsync, ...rest } = o;
    const prim = o.primitives ?? nodePrimitives;
    const prelude = await sealPrelude({ ...rest, meta });
    const cipher = prelude.payloadKey ? await prim.cipher(prelude.payloadKey) : null;
    const payloadHash = prim.sha256Bulk?.(size) ?? prim.sha256();
    await writeAtomically(
      outPath,
      async (out) => {
        const at = await sealChunksToFile({ input: fd, size, output: out, prelude, cipher, payloadHash, onProgress });
        const headerHash = prim.sha256();
        headerHash.update(prelude.header.bytes);
        pwriteFull(out, await o.sender.sign(signedDigest(headerHash.digest(), payloadHash.digest())), at);
      },
      overwrite ?? false,
      fsync ?? true,
    );
    return meta;
  } finally {
    fs.closeSync(fd);
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
  const { fd, size } = openInput(inPath);
  try {
    o.onProgress?.(0, size);
    const { onProgress, overwrite, fsync } = o;
    const prim = o.primitives ?? nodePrimitives;
    const payloadHash = (): IncrementalHash => prim.sha256Bulk?.(size) ?? prim.sha256();
    const header = readHeaderFromFile(fd);
    const { fileKey, origin, verdict } = await admit(header, o, (origin) => checkFileSignature(fd, size, header, origin, payloadHash()));
    const cipher = header.signOnly ? null : await prim.cipher(payloadKey(fileKey, header.payloadSalt));
    const opener = await FileOpener.start({ input: fd, size, header, cipher, origin, payloadHash: payloadHash(), onProgress });
    const target = typeof outPath === 'string' ? outPath : outPath(opener.meta);
    if (typeof outPath !== 'string') checkTarget(target, overwrite ?? false);
    await writeAtomically(target, (out) => opener.writeTo(out), overwrite ?? false, fsync ?? true);
    return { header, verdict, meta: opener.meta, path: target };
  } finally {
    fs.closeSync(fd);
  }
}
