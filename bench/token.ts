// A card's key operations in a PKCS#11 token (SoftHSM2 through pkcs11js) beside the
// same card in memory, in one run: Ed25519 signing, X25519 agreement, PRF(Ka, ·), and a
// whole small-file seal (one stanza, one signature) with each. Private SoftHSM config in
// a temp folder; nothing outside it is touched.
//   npx tsx bench/token.ts [--n 2000]
import { performance } from 'node:perf_hooks';
import { x25519 } from '@noble/curves/ed25519.js';
import { fromBase64, newGroupKey, newSigningKey, prfMessage, type CardKeyOps } from '../card/index.js';
import { useNativeEd25519Signing } from '../card/node.js';
import { memoryKeysOf, partyOf } from '../cli/card-file.js';
import { publicCardData } from '../card/tokencard.js';
import { Token } from '../cli/token/pkcs11.js';
import { importCardKeys, storeCardSecrets, tokenKeyOps } from '../cli/token/card-token.js';
import { makeCard } from '../card/issuer.js';
import { SOFTHSM_MODULE, startSoftHsm } from '../tests/support/softhsm.js';
import { sealBytes } from '../tests/support/world.js';

const i = process.argv.indexOf('--n');
const N = i > 0 ? Number(process.argv[i + 1]) : 2000;
useNativeEd25519Signing(); // the CLI's in-memory signer

const hsm = startSoftHsm();
hsm.initToken('bench', '1234');
const issuer = newSigningKey();
const card = makeCard(issuer.secretKey, issuer.publicKey, { purchaser: { id: 'p', name: 'Bench', email: 'b@example.test' }, groupId: 'grp_bench', groupKey: newGroupKey(), codes: 1 });
const t = Token.open({ module: SOFTHSM_MODULE, label: 'bench' }, '1234');
importCardKeys(t, card.data.cardId, { signSecret: fromBase64(card.data.signSecret), kxSecret: fromBase64(card.data.kxSecret) });
storeCardSecrets(t, card.data.cardId, fromBase64(card.data.groupKey));
const kinds: [string, CardKeyOps, ReturnType<typeof partyOf>][] = [
  ['memory', memoryKeysOf(card.data), partyOf(card.data, memoryKeysOf(card.data))],
  ['token', tokenKeyOps(t, card.data.cardId), partyOf(publicCardData(card.data), tokenKeyOps(t, card.data.cardId))],
];

async function per(fn: () => Promise<unknown>, n: number): Promise<number> {
  for (let k = 0; k < Math.min(50, n); k++) await fn();
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await fn();
  return ((performance.now() - t0) * 1000) / n; // µs
}

const msg = new Uint8Array(32).fill(1);
const peer = x25519.getPublicKey(x25519.utils.randomSecretKey());
const small = new Uint8Array(4096).fill(2);
const rows: Record<string, Record<string, number>> = {};
for (const [name, ops, party] of kinds) {
  rows[name] = {
    'Ed25519 sign': await per(() => ops.sign(msg), N),
    'X25519 agree': await per(() => ops.agree(peer), N),
    'PRF(Ka, ·)': await per(() => ops.groupMac(prfMessage('sealcode code key', 'SERIAL0000')), N),
    'seal 4 KiB for a code': await per(() => sealBytes(party, [{ kind: 'code', label: card.data.codes[0]!.serial }], small), Math.ceil(N / 10)),
  };
}
t.close();
hsm.cleanup();
console.log(`SoftHSM2 token vs in-memory card, ${N} calls each (seals: ${Math.ceil(N / 10)}), µs per call (lower is better)`);
console.log('operation'.padEnd(24) + 'memory'.padStart(10) + 'token'.padStart(10) + '  token/memory');
for (const op of Object.keys(rows.memory!)) {
  const m = rows.memory![op]!;
  const k = rows.token![op]!;
  console.log(op.padEnd(24) + m.toFixed(1).padStart(10) + k.toFixed(1).padStart(10) + `  ${(k / m).toFixed(1)}x`);
}
