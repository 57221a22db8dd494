// The shapes of the vector files and the parties they describe, shared by the
// generator and the test (which reads only the JSON files).
import { buildParty, cardParty, fromHex, type Party, type FileMeta, type RecipientSpec, type SealOptions } from '../../card/index.js';

export interface VectorKeys {
  issuer: { secret: string; public: string };
  group: { id: string; key: string };
  cards: Record<string, { cert: string; signSecret: string }>;
  builds: Record<string, { cert: string; buildSecret: string; codeKey: string }>;
}

export interface ContainerVector {
  name: string;
  description: string;
  sender: string;
  recipients: { kind: string; label: string }[];
  addressees: string[];
  signOnly: boolean;
  chunkLog2: number;
  meta: FileMeta;
  now: number;
  /** Parties that open it, certified. */
  openers: string[];
  /** Parties that cannot open it: NOT_FOR_US. */
  strangers: string[];
  /** The keyless verdict. */
  verdict: boolean;
  random: string[];
  plaintext: string;
  derived: Record<string, string>;
  container: string;
}

export function partiesOf(k: VectorKeys): Record<string, Party> {
  const out: Record<string, Party> = {};
  for (const [name, c] of Object.entries(k.cards))
    out[name] = cardParty({
      cert: fromHex(c.cert),
      signSecret: fromHex(c.signSecret),
      groupKey: fromHex(k.group.key),
      groupId: k.group.id,
      pairs: [],
    });
  for (const [name, b] of Object.entries(k.builds))
    out[name] = buildParty({ cert: fromHex(b.cert), buildSecret: fromHex(b.buildSecret), codeKey: fromHex(b.codeKey) });
  return out;
}

/** A random source that replays recorded bytes and insists on the same draws. */
export function replay(recorded: string[]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const b = fromHex(recorded[i++] ?? '');
    if (b.length !== n) throw new Error(`vector replay: draw ${i - 1} wants ${n} bytes, recorded ${b.length}`);
    return b;
  };
}

/** The options that re-seal a vector: its parties, metadata, time and recorded randomness. */
export function resealOptions(v: ContainerVector, parties: Record<string, Party>): SealOptions {
  return {
    sender: parties[v.sender]!,
    recipients: v.recipients as RecipientSpec[],
    addressees: v.addressees.map((a) => parties[a]!.certificate),
    meta: v.meta,
    signOnly: v.signOnly,
    chunkLog2: v.chunkLog2,
    now: v.now,
    random: replay(v.random),
  };
}
