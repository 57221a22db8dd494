// Writes the test vectors of docs/FORMAT.md §17 into tests/vectors/*.json:
//   npx tsx tests/vectors/generate.ts
// Every key and every random byte comes from a fixed seed and every time is fixed, so
// running it again writes the same files (Ed25519 signatures are deterministic).
// tests/format/vectors.test.ts checks the files both ways without importing this script.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  checkChars,
  codeKey,
  concat,
  decodeHeader,
  encodeMeta,
  formatCode,
  groupStanzaKey,
  headerMacKey,
  idKey,
  issueCert,
  normalize,
  payloadKey,
  seal,
  secretHash,
  sha256,
  signStatus,
  signedDigest,
  toHex,
  utf8,
  type BuildCert,
  type CardCert,
  type RecipientSpec,
} from '../../card/index.js';
import { nodePrimitives } from '../../card/node.js';
import { partiesOf, type VectorKeys, type ContainerVector } from './parties.js';

const here = dirname(fileURLToPath(import.meta.url));
const seed = (label: string): Uint8Array => sha256(utf8('sealcode test vectors\0' + label));

/** The random stream a vector consumes, recorded so that the JSON alone replays it. */
function recorder(label: string): { random: (n: number) => Uint8Array; used: string[] } {
  const used: string[] = [];
  let counter = 0;
  return {
    used,
    random(n: number) {
      let out: Uint8Array = new Uint8Array(0);
      while (out.length < n) out = concat(out, seed(`${label}/${counter++}`));
      const b = out.slice(0, n);
      used.push(toHex(b));
      return b;
    },
  };
}

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const T0 = Date.UTC(2026, 0, 1);

// Serials and secrets are fixed strings of the alphabet, not generateCode() output.
const S1 = { serial: '1K8Y2M4QZ0', secret: 'TESTVECT0RSECRET' };
const S2 = { serial: '1K8Y2M4QZ1', secret: 'ANATHERSECRET123' };

function keys(): { k: VectorKeys; certs: unknown } {
  const issuerSecret = seed('issuer');
  const issuerPublic = ed25519.getPublicKey(issuerSecret);
  const g1 = { id: 'grp_VECTORS1', key: seed('group G1') };
  const card = (name: string, cardId: string) => {
    const signSecret = seed(`card ${name} sign`);
    const kxSecret = seed(`card ${name} kx`);
    const cert: CardCert = {
      type: 'card',
      cardId,
      purchaserId: `p_${name}`,
      name,
      email: `${name.toLowerCase()}@example.test`,
      groupId: g1.id,
      moduleKind: 'keyfile',
      signPub: ed25519.getPublicKey(signSecret),
      // The X25519 public key is carried, not derived here, so any 32 bytes made by x25519 do.
      kxPub: sha256(concat(utf8('kx pub of '), kxSecret)),
      notBefore: T0,
      notAfter: T0 + 3 * 365 * DAY,
    };
    return { cert, bytes: issueCert(issuerSecret, cert).bytes, signSecret };
  };
  const A = card('Alice', 'card_VECTORSALICE000');
  const B = card('Bob', 'card_VECTORSBOB00000');
  const build = (name: string, s: { serial: string }) => {
    const buildSecret = seed(`build ${name}`);
    const cert: BuildCert = {
      type: 'build',
      buildId: `build_VECTORS${name}`,
      serial: s.serial,
      keyKind: 'code',
      keyLabel: s.serial,
      cardId: A.cert.cardId,
      groupId: g1.id,
      purchaserName: A.cert.name,
      purchaserEmail: A.cert.email,
      redeemerEmail: `${name.toLowerCase()}@example.test`,
      signPub: ed25519.getPublicKey(buildSecret),
      notBefore: T0,
      notAfter: T0 + 365 * DAY,
      copyOf: '',
    };
    return { cert, bytes: issueCert(issuerSecret, cert).bytes, buildSecret, codeKey: codeKey(g1.key, s.serial) };
  };
  const D1 = build('D1', S1);
  const D2 = build('D2', S2);
  const k: VectorKeys = {
    issuer: { secret: toHex(issuerSecret), public: toHex(issuerPublic) },
    group: { id: g1.id, key: toHex(g1.key) },
    cards: Object.fromEntries(
      [['A', A] as const, ['B', B] as const].map(([n, c]) => [n, { cert: toHex(c.bytes), signSecret: toHex(c.signSecret) }]),
    ),
    builds: Object.fromEntries(
      [['D1', D1] as const, ['D2', D2] as const].map(([n, b]) => [
        n,
        { cert: toHex(b.bytes), buildSecret: toHex(b.buildSecret), codeKey: toHex(b.codeKey) },
      ]),
    ),
  };
  const hexFields = (c: CardCert | BuildCert) =>
    Object.fromEntries(Object.entries(c).map(([f, v]) => [f, v instanceof Uint8Array ? toHex(v) : v]));
  const certs = {
    note: 'Issuer-signed certificates (FORMAT.md §4): fields, then the exact bytes (body || Ed25519 signature).',
    issuerPublic: toHex(issuerPublic),
    card: { fields: hexFields(A.cert), bytes: toHex(A.bytes) },
    build: { fields: hexFields(D1.cert), bytes: toHex(D1.bytes) },
  };
  return { k, certs };
}

function codeVectors(groupKey: Uint8Array, groupId: string) {
  const codes = [S1, S2, { serial: '0000000000', secret: '0000000000000000' }, { serial: 'ZZZZZZZZZZ', secret: 'ZZZZZZZZZZZZZZZZ' }].map(
    (c) => ({
      serial: c.serial,
      secret: c.secret,
      check: checkChars(c.serial + c.secret),
      text: formatCode(c.serial, c.secret),
      secretHash: toHex(secretHash(c.serial, c.secret)),
    }),
  );
  const typed = formatCode(S1.serial, S1.secret);
  const normalisation = [typed, typed.toLowerCase(), typed.replace(/-/g, ' '), typed.slice(3), typed.replace(/0/g, 'O').replace(/1/g, 'l')].map(
    (input) => ({ input, canonical: normalize(input) }),
  );
  return {
    note: 'Codes (FORMAT.md §2) and code keys (§3).',
    codes,
    normalisation,
    bad: [typed.slice(0, -1) + (typed.endsWith('0') ? '1' : '0'), typed.slice(0, 4) + typed[5] + typed[4] + typed.slice(6), 'SC-1234', typed + 'X'],
    keys: {
      groupKey: toHex(groupKey),
      groupId,
      codeKey: { label: S1.serial, key: toHex(codeKey(groupKey, S1.serial)) },
      idKey: { label: 'alice-friends', key: toHex(idKey(groupKey, 'alice-friends')) },
      groupStanzaKey: { label: groupId, key: toHex(groupStanzaKey(groupKey, groupId)) },
    },
  };
}

const plaintextOf = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 255);

async function container(
  k: VectorKeys,
  v: Omit<ContainerVector, 'random' | 'container' | 'plaintext' | 'derived' | 'now'> & { size: number },
): Promise<ContainerVector> {
  const parties = partiesOf(k);
  const pt = plaintextOf(v.size);
  const rec = recorder(v.name);
  const chunks: Uint8Array[] = [];
  for await (const c of seal(
    (async function* () {
      yield pt;
    })(),
    {
      sender: parties[v.sender]!,
      recipients: v.recipients as RecipientSpec[],
      addressees: v.addressees.map((a) => parties[a]!.certificate),
      meta: v.meta,
      signOnly: v.signOnly,
      chunkLog2: v.chunkLog2,
      now: NOW,
      primitives: nodePrimitives,
      random: rec.random,
    },
  ))
    chunks.push(c.slice());
  const bytes = concat(...chunks);
  const header = decodeHeader(chunks[0]!);
  const fileKey = v.signOnly ? new Uint8Array(32) : Buffer.from(rec.used[0]!, 'hex');
  const payloadHash = sha256(bytes.subarray(header.bytes.length, bytes.length - 64));
  return {
    name: v.name,
    description: v.description,
    sender: v.sender,
    recipients: v.recipients,
    addressees: v.addressees,
    signOnly: v.signOnly,
    chunkLog2: v.chunkLog2,
    meta: v.meta,
    now: NOW,
    openers: v.openers,
    strangers: v.strangers,
    verdict: v.verdict,
    random: rec.used,
    plaintext: toHex(pt),
    derived: {
      fileKey: toHex(fileKey),
      payloadSalt: toHex(header.payloadSalt),
      payloadKey: toHex(payloadKey(fileKey, header.payloadSalt)),
      headerMacKey: toHex(headerMacKey(fileKey, header.payloadSalt)),
      metaBlock: toHex(encodeMeta(v.meta)),
      header: toHex(header.bytes),
      headerHash: toHex(sha256(header.bytes)),
      payloadHash: toHex(payloadHash),
      signedDigest: toHex(signedDigest(sha256(header.bytes), payloadHash)),
      signature: toHex(bytes.subarray(bytes.length - 64)),
    },
    container: toHex(bytes),
  };
}

async function main(): Promise<void> {
  const { k, certs } = keys();
  const write = (name: string, data: unknown): void =>
    writeFileSync(join(here, name), JSON.stringify(data, null, 1) + '\n');
  write('keys.json', { note: 'Fixed test keys (never use them for anything else). Hex throughout.', ...k });
  write('certs.json', certs);
  write('codes.json', codeVectors(Buffer.from(k.group.key, 'hex'), k.group.id));
  const meta = (name: string, size: number) => ({ name, type: 'application/octet-stream', size });
  const list: ContainerVector[] = [
    await container(k, {
      name: 'card-origin',
      description: 'Card A seals for the code serial S1; build D1 (made from S1) opens. Two 64 KiB chunks.',
      sender: 'A',
      recipients: [{ kind: 'code', label: S1.serial }],
      addressees: [],
      signOnly: false,
      chunkLog2: 16,
      meta: meta('report.pdf', 70_000),
      size: 70_000,
      openers: ['D1', 'A'],
      strangers: ['D2'],
      verdict: true,
    }),
    await container(k, {
      name: 'dedicated-origin',
      description: "Build D1 seals for its purchaser's code, naming card A as addressee; card A opens.",
      sender: 'D1',
      recipients: [{ kind: 'code', label: S1.serial }],
      addressees: ['A'],
      signOnly: false,
      chunkLog2: 16,
      meta: meta('reply.txt', 100),
      size: 100,
      openers: ['A', 'B'],
      strangers: ['D2'],
      verdict: true,
    }),
    await container(k, {
      name: 'multi-recipient',
      description: 'Card A seals one file for codes S1 and S2 and its group; D1, D2 and card B each open it.',
      sender: 'A',
      recipients: [
        { kind: 'code', label: S1.serial },
        { kind: 'code', label: S2.serial },
        { kind: 'group', label: k.group.id },
      ],
      addressees: [],
      signOnly: false,
      chunkLog2: 16,
      meta: meta('minutes.odt', 300),
      size: 300,
      openers: ['D1', 'D2', 'B'],
      strangers: [],
      verdict: true,
    }),
    await container(k, {
      name: 'sign-only',
      description: 'Card A signs without encrypting (no stanzas, all-zero file key); anyone with the issuer key verifies.',
      sender: 'A',
      recipients: [],
      addressees: [],
      signOnly: true,
      chunkLog2: 16,
      meta: meta('notice.txt', 64),
      size: 64,
      openers: ['B', 'D1'],
      strangers: [],
      verdict: true,
    }),
    await container(k, {
      name: 'group',
      description: "Card A seals for its group's stanza key; card B of the same group opens.",
      sender: 'A',
      recipients: [{ kind: 'group', label: k.group.id }],
      addressees: ['B'],
      signOnly: false,
      chunkLog2: 16,
      meta: meta('plan.xlsx', 1000),
      size: 1000,
      openers: ['B', 'A'],
      strangers: ['D1'],
      verdict: true,
    }),
  ];
  write('containers.json', { note: 'Sealed containers (FORMAT.md §5-§9). random lists the bytes seal() drew, in order.', vectors: list });
  const status = { issuedAt: NOW, revoked: { codes: [S2.serial], builds: [], cards: [] } };
  write('status.json', { note: 'Status list (FORMAT.md §13).', list: status, signed: signStatus(Buffer.from(k.issuer.secret, 'hex'), status) });
  console.log(`wrote ${list.length} container vectors to ${here}`);
}

await main();
