// OpenSSL's scrypt on the thread pool (about twice as fast as the pure-JS one, same
// bytes), and one derivation started ahead of need: the CLI starts the card file's as
// soon as it knows the file and the passphrase, so the ~0.2 s of stretching runs on
// the second core while the command's modules load. Node-only.
import { scrypt, timingSafeEqual } from 'node:crypto';
import { SCRYPT_MAXMEM } from './cardfile-envelope.js';

const run = (pass: Uint8Array, salt: Uint8Array, N: number, r: number, p: number): Promise<Uint8Array> =>
  new Promise((resolve, reject) =>
    scrypt(pass, salt, 32, { N, r, p, maxmem: SCRYPT_MAXMEM }, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
  );

interface Started {
  pass: Buffer;
  key: Promise<Uint8Array>;
}
const started = new Map<string, Started>();
const idOf = (salt: Uint8Array, N: number, r: number, p: number): string => `${Buffer.from(salt).toString('base64')}/${N}/${r}/${p}`;

/** Starts a derivation now; the next nativeScrypt() of exactly these inputs takes its result. */
export function startScrypt(pass: Uint8Array, salt: Uint8Array, N: number, r: number, p: number): void {
  const key = run(pass, salt, N, r, p);
  // Nobody may ever ask for it (the command failed first): a failure must not surface.
  key.catch(() => undefined);
  started.set(idOf(salt, N, r, p), { pass: Buffer.from(pass), key });
}

/** scrypt with dkLen 32, as card/cardfile.ts calls it. */
export function nativeScrypt(pass: Uint8Array, salt: Uint8Array, N: number, r: number, p: number): Promise<Uint8Array> {
  const id = idOf(salt, N, r, p);
  const s = started.get(id);
  if (s) {
    started.delete(id);
    const same = s.pass.length === pass.length && timingSafeEqual(s.pass, pass);
    s.pass.fill(0);
    // A started derivation that failed is run again, so its error is the caller's own.
    if (same) return s.key.catch(() => run(pass, salt, N, r, p));
  }
  return run(pass, salt, N, r, p);
}
