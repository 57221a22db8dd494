// Native scrypt for the card file's passphrase (card/scrypt-native.ts). Same bytes; Node-only.
import { setScrypt } from './cardfile.js';
import { nativeScrypt } from './scrypt-native.js';

export function useNativeScrypt(): void {
  setScrypt(nativeScrypt);
}
