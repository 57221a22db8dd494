// Streaming Content-Transfer-Encoding decoders for the MIME walk. Each takes the body in
// pieces cut anywhere and gives exactly what decoding the whole body at once gives, so
// the verdict cannot depend on how the message arrived (one FETCH or many chunks).
// Malformed input is read the way mailparser reads it: base64 padding in the middle
// ends that quantum and decoding goes on; a bad quoted-printable escape stays literal.

export interface Decoder {
  push(b: Buffer): Buffer;
  end(): Buffer;
}

const EMPTY = Buffer.alloc(0);
const EQ = 0x3d;
const LF = 0x0a;
const CR = 0x0d;
/** Node decodes base64 only from strings; pieces stay under V8's large-string threshold. */
const PIECE = 64 * 1024;

/** Everything the base64 alphabet does not have, padding included (split on first). */
const NOT_B64 = /[^A-Za-z0-9+/]+/g;

/** Bytes Node's decoder gives for n alphabet characters without padding. */
const decodedLength = (n: number): number => Math.floor((n * 3) / 4);

/**
 * LFs, and CRs right before them. Lines are mostly as long as the last one, so the next
 * LF is looked for there first. A miscount (a stray CR, an LF jumped over) can only make
 * the count too small; the decoder's output length then disagrees, or the open quantum
 * reads as one character, and the exact path decides (see segment()).
 */
function countLineBreaks(s: string): number {
  let n = 0;
  let len = -1;
  for (let i = s.indexOf('\n'); i >= 0; ) {
    n += i > 0 && s.charCodeAt(i - 1) === 13 ? 2 : 1;
    const guess = len >= 0 ? i + 1 + len : -1;
    const next = guess > i && guess < s.length && s.charCodeAt(guess) === 10 ? guess : s.indexOf('\n', i + 1);
    if (next >= 0) len = next - i - 1;
    i = next;
  }
  return n;
}

const isB64 = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;

export class Base64Decoder implements Decoder {
  /** Alphabet characters of the quantum left open so far (0-3). */
  private tail = '';

  push(b: Buffer): Buffer {
    const out = Buffer.allocUnsafe(Math.ceil((b.length + 8) / 4) * 3);
    let o = 0;
    for (let s = 0; s < b.length; s += PIECE) {
      const segs = b.toString('latin1', s, Math.min(b.length, s + PIECE)).split('=');
      for (let k = 0; k < segs.length; k++) {
        if (k > 0 && this.tail) {
          // Padding closes the open quantum; whatever follows starts a new one.
          o += out.write(this.tail, o, 'base64');
          this.tail = '';
        }
        o = this.segment(this.tail + segs[k]!, out, o);
      }
    }
    return out.subarray(0, o);
  }

  /**
   * Decodes one stretch without padding. The usual body (alphabet and line breaks) goes
   * straight to Node's decoder, which skips line breaks itself; the open quantum at the
   * end is found from the count of line breaks, and the decoder's output length proves
   * that count right. Anything else (stray bytes) takes the exact path.
   */
  private segment(all: string, out: Buffer, o: number): number {
    const n = all.length - countLineBreaks(all);
    const w = out.write(all, o, 'base64');
    const open = n % 4;
    if (w === decodedLength(n) && open !== 1) {
      this.tail = '';
      if (open === 0) return o + w;
      // Keep the open quantum's characters; drop the bytes decoded from them alone.
      let i = all.length;
      while (this.tail.length < open) {
        const c = all.charCodeAt(--i);
        if (isB64(c)) this.tail = all[i] + this.tail;
      }
      return o + w - (open - 1);
    }
    const clean = all.replace(NOT_B64, '');
    const whole = clean.length - (clean.length % 4);
    const written = out.write(clean.slice(0, whole), o, 'base64');
    this.tail = clean.slice(whole);
    return o + written;
  }

  end(): Buffer {
    const t = this.tail;
    this.tail = '';
    return t ? Buffer.from(t, 'base64') : EMPTY;
  }
}

const hex = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

/** Byte by byte, so a piece boundary inside `=XX` or a soft line break changes nothing. */
export class QuotedPrintableDecoder implements Decoder {
  /** Bytes after an `=` not yet decided (at most two, the `=` included). */
  private pend: number[] = [];

  push(b: Buffer): Buffer {
    const out = Buffer.allocUnsafe(b.length + 2);
    let o = 0;
    const pend = this.pend;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (pend.length === 0) {
        if (c === EQ) pend.push(c);
        else out[o++] = c;
      } else if (pend.length === 1) {
        if (c === LF) pend.length = 0; // soft line break
        else pend.push(c);
      } else {
        const h1 = pend[1]!;
        pend.length = 0;
        if (h1 === CR && c === LF) continue; // soft line break
        const v = hex(h1) >= 0 && hex(c) >= 0 ? hex(h1) * 16 + hex(c) : -1;
        if (v >= 0) out[o++] = v;
        else {
          // Not an escape: kept as written.
          out[o++] = EQ;
          out[o++] = h1;
          out[o++] = c;
        }
      }
    }
    return out.subarray(0, o);
  }

  end(): Buffer {
    const rest = Buffer.from(this.pend);
    this.pend = [];
    return rest;
  }
}

export class IdentityDecoder implements Decoder {
  push(b: Buffer): Buffer {
    return b;
  }
  end(): Buffer {
    return EMPTY;
  }
}

export function decoderFor(cte: string | undefined): Decoder {
  switch ((cte ?? '').trim().toLowerCase()) {
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QuotedPrintableDecoder();
    default:
      return new IdentityDecoder();
  }
}
