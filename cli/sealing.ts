// Sealing and opening files on disk with the card/ container. Output goes to a
// temporary file beside the destination and is renamed only when the whole container
// has been written or (when opening) authenticated and certified: a refused or tampered
// input leaves no output behind.
import fs from 'node:fs';
import path from 'node:path';
import { seal, type SealOptions } from '../card/container/seal.js';
import { openSealed, verifySealed, type Opened, type VerifyResult } from '../card/container/open.js';
import type { FileMeta } from '../card/container/meta.js';
import type { Party } from '../card/party.js';
import type { RecipientSpec } from '../card/stanza.js';
import type { StatusList } from '../card/status.js';
import { nodePrimitives } from '../card/node.js';
import { CliError, EXIT } from './errors.js';
import { commit, discard, tempBeside } from './files.js';
import { progressFor } from './progress.js';

const READ_CHUNK = 1 << 20;

const TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.zip': 'application/zip',
  '.json': 'application/json',
  '.html': 'text/html',
  '.csv': 'text/csv',
};

export const typeOf = (name: string): string => TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';

function statInput(file: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CliError(`cannot read ${file}`, EXIT.usage, 'USAGE');
  }
  if (!st.isFile()) throw new CliError(`${file} is not a regular file`, EXIT.usage, 'USAGE');
  return st;
}

/** Reads a file in 1 MiB pieces, reporting how much was read. */
async function* readCounting(file: string, onRead: (n: number) => void): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const b of fs.createReadStream(file, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
    n += b.length;
    onRead(n);
    yield b;
  }
}

async function writeAll(temp: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const fh = await fs.promises.open(temp, 'wx', 0o600);
  try {
    for await (const c of chunks) await fh.write(c);
  } finally {
    await fh.close();
  }
}

export interface SealFileOptions {
  sender: Party;
  recipients: RecipientSpec[];
  addressees?: Uint8Array[];
  signOnly?: boolean;
  progress?: boolean;
}

export async function sealFileTo(input: string, output: string, o: SealFileOptions): Promise<FileMeta> {
  const st = statInput(input);
  const name = path.basename(input);
  const meta: FileMeta = { name, type: typeOf(name), size: st.size };
  const bar = progressFor('sealing', st.size, o.progress);
  const temp = tempBeside(output);
  try {
    const opts: SealOptions = {
      sender: o.sender,
      recipients: o.recipients,
      addressees: o.addressees,
      meta,
      signOnly: o.signOnly,
      primitives: nodePrimitives,
    };
    await writeAll(temp, seal(readCounting(input, bar.update), opts));
    await fs.promises.chmod(temp, 0o644);
    commit(temp, output);
    return meta;
  } catch (e) {
    discard(temp);
    throw e;
  } finally {
    bar.stop();
  }
}

export interface OpenFileOptions {
  receiver: Party;
  issuerPub: Uint8Array;
  status?: StatusList;
  now?: number;
  progress?: boolean;
}

export interface OpenFileResult {
  opened: Omit<Opened, 'content'>;
  output: string;
}

/**
 * Opens `input` as `receiver`; `output` may depend on the sealed file's metadata.
 * Nothing is left at the output path unless every chunk and the signature verified.
 */
export async function openFileTo(input: string, output: (meta: FileMeta) => string, o: OpenFileOptions): Promise<OpenFileResult> {
  const st = statInput(input);
  const bar = progressFor('opening', st.size, o.progress);
  let temp: string | undefined;
  try {
    const opened = await openSealed(readCounting(input, bar.update), {
      receiver: o.receiver,
      issuerPub: o.issuerPub,
      status: o.status,
      now: o.now,
      primitives: nodePrimitives,
    });
    const target = output(opened.meta);
    try {
      temp = tempBeside(target);
      await writeAll(temp, opened.content);
    } catch (e) {
      // Drain nothing further: closing the generator closes the input.
      await opened.content.return(undefined);
      throw e;
    }
    await fs.promises.chmod(temp, 0o644);
    commit(temp, target);
    const { content: _content, ...rest } = opened;
    return { opened: rest, output: target };
  } catch (e) {
    if (temp) discard(temp);
    throw e;
  } finally {
    bar.stop();
  }
}

export async function verifyFile(input: string, issuerPub: Uint8Array, status?: StatusList, now?: number): Promise<VerifyResult> {
  statInput(input);
  return verifySealed(readCounting(input, () => {}), { issuerPub, status, now, primitives: nodePrimitives });
}
