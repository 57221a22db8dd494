// A move sealed and opened with the card package's container: the sender's certified
// origin says who moved; sha256 of the whole sealed file is the link the next move names.
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, toHex } from '../card/bytes.js';
import { verifyCert, type Cert } from '../card/certs.js';
import { malformed } from '../card/errors.js';
import { openSealed } from '../card/container/open.js';
import { seal } from '../card/container/seal.js';
import type { Primitives } from '../card/container/primitives.js';
import type { Party } from '../card/party.js';
import type { Verdict } from '../card/policy.js';
import type { RecipientSpec } from '../card/stanza.js';
import type { StatusList } from '../card/status.js';
import { MAX_MOVE_FILE, MOVE_PAYLOAD_TYPE, decodeMove, encodeMove, moveFileName, type MovePlain } from './format.js';

export const moveHash = (file: Uint8Array): string => toHex(sha256(file));

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of gen) parts.push(p.slice());
  return concat(...parts);
}

export interface SealMoveOptions {
  sender: Party;
  recipient: RecipientSpec;
  addressees?: Uint8Array[];
  primitives?: Primitives;
  now?: number;
  /** Fixed randomness, for test vectors only. */
  random?: (n: number) => Uint8Array;
}

export async function sealMove(m: MovePlain, o: SealMoveOptions): Promise<Uint8Array> {
  const body = encodeMove(m);
  return collect(
    seal(once(body), {
      sender: o.sender,
      recipients: [o.recipient],
      addressees: o.addressees,
      meta: { name: moveFileName(m.gameId, m.n), type: MOVE_PAYLOAD_TYPE, size: body.length },
      chunkLog2: 16,
      primitives: o.primitives,
      now: o.now,
      random: o.random,
    }),
  );
}

export interface OpenedMove {
  plain: MovePlain;
  origin: Cert;
  verdict: Verdict;
  hash: string;
}

export interface OpenMoveOptions {
  receiver: Party;
  issuerPub: Uint8Array;
  primitives?: Primitives;
  now?: number;
  status?: StatusList;
}

/** Opens and certifies a move file as `receiver`; the chain is checked by game/chain.ts. */
export async function openMove(file: Uint8Array, o: OpenMoveOptions): Promise<OpenedMove> {
  if (file.length > MAX_MOVE_FILE) throw malformed(`not a game move: ${file.length} bytes, a move is at most ${MAX_MOVE_FILE}`);
  const opened = await openSealed(once(file), { receiver: o.receiver, issuerPub: o.issuerPub, primitives: o.primitives, now: o.now, status: o.status });
  const body = await collect(opened.content);
  if (opened.meta.type !== MOVE_PAYLOAD_TYPE) throw malformed(`not a game move: the sealed file is of type ${opened.meta.type}`);
  const plain = decodeMove(body);
  if (opened.meta.name !== moveFileName(plain.gameId, plain.n)) throw malformed('not a game move: its sealed name does not match its contents');
  return { plain, origin: verifyCert(opened.header.originCert, o.issuerPub).cert, verdict: opened.verdict, hash: moveHash(file) };
}
