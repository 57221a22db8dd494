// Worker thread: certifies the decoded sealcode attachments of one message, so the main
// thread keeps reading IMAP while another core does the hashing and the signature check.
import { parentPort, workerData } from 'node:worker_threads';
import { certifyStream, type Certification } from '../certify.js';
import { useNativeEd25519 } from '../native-ed25519.js';
import type { StatusList } from '../../card/index.js';
import type { MailboxOwner } from '../../card/owner.js';

/** One attachment, already free of its transfer encoding. */
export interface PartInput {
  part: string;
  filename?: string;
  data: Uint8Array;
}
export type PartResult = Certification & { part: string; filename?: string };

export interface WorkRequest {
  id: number;
  parts: PartInput[];
  status?: StatusList;
  owner?: MailboxOwner;
}
export interface WorkResult {
  id: number;
  error?: string;
  parts?: PartResult[];
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

export async function certifyParts(parts: PartInput[], issuerPub: Uint8Array, status?: StatusList, owner?: MailboxOwner): Promise<PartResult[]> {
  const out: PartResult[] = [];
  for (const p of parts) out.push({ ...(await certifyStream(once(p.data), { issuerPub, status, owner })), part: p.part, filename: p.filename });
  return out;
}

if (parentPort && workerData?.sealcodeCertifyWorker) {
  useNativeEd25519();
  const issuerPub = workerData.issuerPub as Uint8Array;
  const port = parentPort;
  port.on('message', (req: WorkRequest) => {
    certifyParts(req.parts, issuerPub, req.status, req.owner).then(
      (parts) => port.postMessage({ id: req.id, parts } satisfies WorkResult),
      (e: Error) => port.postMessage({ id: req.id, error: e.message } satisfies WorkResult),
    );
  });
}
