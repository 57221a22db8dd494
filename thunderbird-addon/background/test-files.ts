// Test builds only: what the drivers (test-driver.ts, measure-test-driver.ts) share: files
// made and hashed without holding them whole, and the inbox as the tests see it.
import { messenger } from '../lib/messenger.js';
import { imapInbox } from './plan-runner.js';
import { addonPrimitives } from '../lib/primitives.js';
import { SLICE, blobSource, streamToBlob } from '../lib/bytes.js';
import { owns } from '../lib/release.js';

const m = messenger();

/** Hashed slice by slice: a 200 MB opened file must not be pulled into memory to be checked. */
export async function sha256Hex(b: Blob): Promise<string> {
  const h = (await addonPrimitives()).sha256();
  const src = blobSource(b);
  const buf = new Uint8Array(SLICE);
  for (let n; (n = await src.read(buf)) > 0; ) h.update(buf.subarray(0, n));
  return Array.from(h.digest(), (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Random bytes written straight into a disk-backed File, as a picked attachment would be. */
export async function randomFile(size: number, name: string): Promise<File> {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let o = 0; o < size; o += SLICE) {
      // Owned: freed once written (lib/release.ts), so the bench's input leaves no garbage.
      const c = owns(new Uint8Array(Math.min(SLICE, size - o)));
      for (let k = 0; k < c.length; k += 65536) crypto.getRandomValues(c.subarray(k, k + 65536));
      yield c;
    }
  }
  return new File([await streamToBlob(chunks(), 'application/octet-stream')], name, { type: 'application/octet-stream' });
}

export async function inboxMessages(): Promise<{ id: number; subject: string }[]> {
  const r = await m.messages.list(await imapInbox());
  return r.messages;
}

/** The mail tab, in front, showing the inbox; tabs earlier steps opened (options, files) closed. */
export async function mailTab(): Promise<{ id: number }> {
  for (const t of await m.tabs.query({})) if (t.type && t.type !== 'mail') await m.tabs.remove(t.id).catch(() => undefined);
  const [tab] = await m.mailTabs.query({});
  if (!tab) throw new Error('no mail tab');
  await m.tabs.update(tab.id, { active: true }).catch(() => undefined);
  await m.mailTabs.update(tab.id, { displayedFolderId: await imapInbox() });
  return tab;
}
