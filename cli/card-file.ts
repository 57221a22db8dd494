// A purchaser's card file on disk: opened with its passphrase, re-sealed atomically
// with the same passphrase when its contents change (imported codes).
import { openCardFile, sealCardFile, type CardData } from '../card/cardfile.js';
import { getPassphrase, type PassphraseOptions } from './passphrase.js';
import { readInput, writeFileAtomic } from './files.js';

export interface OpenedCard {
  path: string;
  data: CardData;
  passphrase: string;
}

export async function loadCard(file: string, opts: PassphraseOptions): Promise<OpenedCard> {
  const text = readInput(file, 'the card file').toString('utf8');
  const passphrase = await getPassphrase(opts, `the card ${file}`);
  return { path: file, data: await openCardFile(text, passphrase), passphrase };
}

export async function saveCard(file: string, data: CardData, passphrase: string): Promise<void> {
  writeFileAtomic(file, await sealCardFile(data, passphrase), 0o600);
}
