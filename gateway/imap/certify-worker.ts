// Worker thread: walks a whole message source and certifies its sealcode attachments,
// so the main thread keeps reading IMAP while another core does the hashing.
import { parentPort, workerData } from 'node:worker_threads';
import { certifyStream, type Certification } from '../certify.js';
import { useNativeEd25519 } from '../native-ed25519.js';
import { analyzeSource } from './source.js';
import type { StatusList } from '../../card/index.js';

export interface WorkRequest {
  id: number;
  source: Uint8Array;
  status?: StatusList;
}
export interface WorkResult {
  id: number;
  error?: string;
  messageId?: string;
  from?: string;
  parts?: (Certification & { part: string; filename?: string })[];
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

export async function analyzeAndCertify(source: Uint8Array, issuerPub: Uint8Array, status?: StatusList): Promise<Omit<WorkResult, 'id'>> {
  const a = analyzeSource(Buffer.from(source.buffer, source.byteOffset, source.byteLength));
  const parts: NonNullable<WorkResult['parts']> = [];
  for (const p of a.parts) parts.push({ ...(await certifyStream(once(p.data), { issuerPub, status })), part: p.part, filename: p.filename });
  return { messageId: a.messageId, from: a.from, parts };
}

if (parentPort && workerData?.sealcodeCertifyWorker) {
  useNativeEd25519();
  const issuerPub = workerData.issuerPub as Uint8Array;
  const port = parentPort;
  port.on('message', (req: WorkRequest) => {
    analyzeAndCertify(req.source, issuerPub, req.status).then(
      (r) => port.postMessage({ id: req.id, ...r } satisfies WorkResult),
      (e: Error) => port.postMessage({ id: req.id, error: e.message } satisfies WorkResult),
    );
  });
}
