// Sealing attachment files inside the add-on: WebCrypto AES-GCM for the bulk, the
// party (a dedicated build's keys, or the card behind the native host) for the file key
// wrap and the signature. Several recipients share one container per file. The file is
// read in slices and the container written into a disk-backed Blob as it is produced.
import { seal } from '../../card/container/seal.js';
import { addonPrimitives } from './primitives.js';
import type { Party } from '../../card/party.js';
import type { RecipientSpec } from '../../card/stanza.js';
import { SEALED_TYPE } from '../manifest.js';
import { blobSource, streamToBlob } from './bytes.js';

export interface SealPlan {
  party: Party;
  recipients: RecipientSpec[];
  addressees: Uint8Array[];
  /** For the X-Sealcode header and notices. */
  origin: 'card' | 'dedicated';
  /** Signed, not encrypted (no recipients). */
  signOnly?: boolean;
}

export async function sealFile(file: File, name: string, plan: SealPlan): Promise<File> {
  const out = seal(blobSource(file), {
    sender: plan.party,
    recipients: plan.recipients,
    addressees: plan.addressees,
    signOnly: plan.signOnly,
    meta: { name, type: file.type || 'application/octet-stream', size: file.size },
    primitives: await addonPrimitives(),
  });
  // Wrapping the Blob in a File references its data; nothing is copied.
  return new File([await streamToBlob(out, SEALED_TYPE)], `${name}.seal`, { type: SEALED_TYPE });
}

export const isSealedName = (name: string): boolean => /\.seal$/i.test(name);
