// File names for sealed parts. The name a client gives is only a hint: it may carry a
// path, dots, NUL, control or bidi characters meant to make `invoice.exe` read as
// `invoice.pdf`. What reaches the recipient is always a plain name that every system
// can store, so a hostile name changes the name, never whether the message is relayed.

// C0/C1 controls, DEL, bidi embeddings/overrides/isolates, zero-width marks, BOM.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const MAX_NAME_BYTES = 200;

function clip(s: string, maxBytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > maxBytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/** A plain file name (no folders, no hidden or invisible characters), or `fallback`. */
export function safeFileName(raw: string | undefined, fallback: string): string {
  let s = (raw ?? '').normalize('NFC').replace(INVISIBLE, '');
  s = s.split(/[\\/]/).pop() ?? '';
  s = s.replace(/[<>:"|?*]/g, '_').replace(/\s+/g, ' ');
  // Leading dots would hide the file or climb folders; trailing dots and spaces vanish on Windows.
  s = s.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (!s) s = fallback;
  if (WINDOWS_RESERVED.test(s)) s = '_' + s;
  if (Buffer.byteLength(s, 'utf8') > MAX_NAME_BYTES) {
    const dot = s.lastIndexOf('.');
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : '';
    s = clip(s.slice(0, s.length - ext.length), MAX_NAME_BYTES - Buffer.byteLength(ext, 'utf8')) + ext;
  }
  return s;
}

const IMAGE_EXT: Record<string, string> = { jpeg: 'jpg', pjpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp', bmp: 'bmp', tiff: 'tif', 'svg+xml': 'svg', heic: 'heic' };

/** The name for a part the client did not name: by kind, numbered in message order. */
export function fallbackName(type: string, n: number): string {
  const [top, sub = ''] = type.split('/');
  if (top === 'message') return `message-${n}.eml`;
  if (top === 'image') return `image-${n}.${IMAGE_EXT[sub] ?? 'img'}`;
  if (top === 'text') return `text-${n}.txt`;
  return `part-${n}.bin`;
}

/** A MIME type safe to record in the sealed metadata. */
export function safeMimeType(t: string): string {
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(t) ? t : 'application/octet-stream';
}
