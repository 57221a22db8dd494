// An in-memory cast for unit tests of card/: one issuer, group G1 with cards A and B,
// group G2 with card C, and dedicated builds made from A's codes.
import {
  makeCard,
  makeBuild,
  newGroupKey,
  newSigningKey,
  cardParty,
  cardSecretsOf,
  buildParty,
  profileSecrets,
  profileCerts,
  seal,
  openSealed,
  verifySealed,
  type DedicatedProfile,
  type NewCard,
  type Party,
  type RecipientSpec,
  type SealOptions,
  type Opened,
  concat,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';

export function makeWorld(now = Date.now()) {
  const issuer = newSigningKey();
  const g1 = { id: 'grp_1', key: newGroupKey() };
  const g2 = { id: 'grp_2', key: newGroupKey() };
  const card = (name: string, g: { id: string; key: Uint8Array }): NewCard =>
    makeCard(issuer.secretKey, issuer.publicKey, {
      purchaser: { id: `p_${name}`, name, email: `${name.toLowerCase()}@example.test` },
      groupId: g.id,
      groupKey: g.key,
      codes: 3,
      now,
    });
  const A = card('Alice', g1);
  const B = card('Bob', g1);
  const C = card('Carol', g2);
  const build = (
    owner: NewCard,
    g: { key: Uint8Array },
    serial: string,
    extra: Partial<Parameters<typeof makeBuild>[2]> = {},
  ): DedicatedProfile =>
    makeBuild(issuer.secretKey, issuer.publicKey, {
      serial,
      purchaserCert: owner.cert,
      purchaserCertBytes: owner.certBytes,
      groupKey: g.key,
      redeemerEmail: 'dana@example.test',
      now,
      ...extra,
    });
  const serialA = A.data.codes[0]!.serial;
  const D1 = build(A, g1, serialA);
  return { issuer, g1, g2, A, B, C, D1, build, serialA, now };
}

export const partyOfCard = (c: NewCard): Party => cardParty(cardSecretsOf(c.data));
export const partyOfBuild = (p: DedicatedProfile): Party => buildParty(profileSecrets(p));
export const buildCertOf = (p: DedicatedProfile) => profileCerts(p).build;

export async function* chunksOf(b: Uint8Array, size = 7919): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

export async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of gen) parts.push(p.slice()); // slice: a producer may reuse its buffers
  return concat(...parts);
}

export async function sealBytes(
  sender: Party,
  recipients: RecipientSpec[],
  data: Uint8Array,
  extra: Partial<SealOptions> = {},
): Promise<Uint8Array> {
  return collect(
    seal(chunksOf(data), {
      sender,
      recipients,
      meta: { name: 'file.bin', type: 'application/octet-stream', size: data.length },
      primitives: nodePrimitives,
      chunkLog2: 16,
      ...extra,
    }),
  );
}

export async function openBytes(
  receiver: Party,
  sealed: Uint8Array,
  issuerPub: Uint8Array,
  extra: { now?: number } = {},
): Promise<{ opened: Opened; data: Uint8Array }> {
  const opened = await openSealed(chunksOf(sealed, 4096), { receiver, issuerPub, primitives: nodePrimitives, ...extra });
  return { opened, data: await collect(opened.content) };
}

export const verifyBytes = (sealed: Uint8Array, issuerPub: Uint8Array, now?: number) =>
  verifySealed(chunksOf(sealed), { issuerPub, primitives: nodePrimitives, now });
