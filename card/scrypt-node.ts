// Native scrypt for the card file's passphrase (OpenSSL: about twice as fast as the
// pure-JS one, and it runs on the thread pool). Same bytes; Node-only.
import { scrypt } from 'node:crypto';
import { setScrypt } from './cardfile.js';

export function useNativeScrypt(): void {
  setScrypt(
    (pass, salt, N, r, p) =>
      new Promise((resolve, reject) =>
        scrypt(pass, salt, 32, { N, r, p, maxmem: 1024 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
      ),
  );
}
