// The CLI's sealing and opening of files: cli/seal-files.ts does the work (temporary
// file beside the destination, renamed only after success, so a refused or tampered
// input leaves no output); this adds the progress bar, file types and the keyless check.
import fs from 'node:fs';
import path from 'node:path';
import { verifySealed, type VerifyResult } from '../card/container/open.js';
import type { FileMeta } from '../card/container/meta.js';
import type { Party } from '../card/party.js';
import type { RecipientSpec } from '../card/stanza.js';
import type { StatusList } from '../card/status.js';
import { nodePrimitives } from '../card/node.js';
import { CliError, EXIT } from './errors.js';
import { openFile, sealFile, type OpenFileResult } from './seal-files.js';
import { progressFor } from './progress.js';

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

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    throw new CliError(`cannot read ${file}`, EXIT.usage, 'USAGE');
  }
}

export interface SealFileOptions {
  sender: Party;
  recipients: RecipientSpec[];
  addressees?: Uint8Array[];
  signOnly?: boolean;
  overwrite?: boolean;
}

export async function sealFileTo(input: string, output: string, o: SealFileOptions): Promise<FileMeta> {
  const bar = progressFor('sealing', sizeOf(input));
  try {
    return await sealFile(input, output, {
      sender: o.sender,
      recipients: o.recipients,
      addressees: o.addressees,
      signOnly: o.signOnly,
      overwrite: o.overwrite,
      meta: { type: typeOf(input) },
      onProgress: (done) => bar.update(done),
    });
  } finally {
    bar.stop();
  }
}

export interface OpenFileOptions {
  receiver: Party;
  issuerPub: Uint8Array;
  status?: StatusList;
  now?: number;
  overwrite?: boolean;
}

export async function openFileTo(input: string, output: string | ((meta: FileMeta) => string), o: OpenFileOptions): Promise<OpenFileResult> {
  const bar = progressFor('opening', sizeOf(input));
  try {
    return await openFile(input, output, { ...o, onProgress: (done) => bar.update(done) });
  } finally {
    bar.stop();
  }
}

export async function verifyFile(input: string, issuerPub: Uint8Array, status?: StatusList, now?: number): Promise<VerifyResult> {
  sizeOf(input);
  return verifySealed(fs.createReadStream(input, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>, {
    issuerPub,
    status,
    now,
    primitives: nodePrimitives,
  });
}
