// Content-Transfer-Encoding decoders fed one line (or line piece) at a time, so a
// part is decoded as it is read. Tolerant like common readers: characters outside the
// base64 alphabet are skipped, `=` padding in mid-stream ends one group and decoding
// goes on; a quoted-printable `=` that is not an escape is kept as written.
import { parseStructured } from '../mime.js';

export interface Decoder {
  /** One line's content without its line break; `ended`: a line break followed it. */
  push(content: Buffer, ended: boolean): { data: Buffer; keepEol: boolean };
  end(): Buffer;
}

const EMPTY = Buffer.alloc(0);

// Small enough that the strings made from a batch stay out of V8's large-object space
// (collected only by full GCs: 256 KB batches held ~150 MB of garbage for a 40 MB part).
const BATCH = 32 * 1024;

class Base64Decoder implements Decoder {
  private pending = '';
  private batch: Buffer[] = [];
  private batched = 0;
  // Lines are decoded in batches: one string operation per line would dominate.
  push(b: Buffer): { data: Buffer; keepEol: boolean } {
    this.batch.push(b);
    this.batched += b.length;
    if (this.batched < BATCH) return { data: EMPTY, keepEol: false };
    return { data: this.flush(), keepEol: false };
  }
  private flush(): Buffer {
    const b = Buffer.concat(this.batch);
    this.batch = [];
    this.batched = 0;
    this.pending += b.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, '');
    const out: Buffer[] = [];
    for (;;) {
      const i = this.pending.indexOf('=');
      if (i < 0) break;
      let j = i;
      while (this.pending[j] === '=') j++;
      out.push(Buffer.from(this.pending.slice(0, i), 'base64'));
      this.pending = this.pending.slice(j);
    }
    const n = this.pending.length - (this.pending.length % 4);
    if (n) {
      out.push(Buffer.from(this.pending.slice(0, n), 'base64'));
      this.pending = this.pending.slice(n);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
  end(): Buffer {
    const head = this.flush();
    const r = Buffer.concat([head, Buffer.from(this.pending, 'base64')]);
    this.pending = '';
    return r;
  }
}

class QuotedPrintableDecoder implements Decoder {
  private carry = '';
  push(b: Buffer, ended: boolean): { data: Buffer; keepEol: boolean } {
    let s = this.carry + b.toString('latin1');
    this.carry = '';
    let soft = false;
    if (ended) {
      // Soft line break: `=` then optional transport padding at the end of the line.
      const m = /=[ \t]*$/.exec(s);
      if (m) {
        soft = true;
        s = s.slice(0, m.index);
      }
    } else {
      // An escape cut by a line piece boundary waits for the rest.
      const tail = /=[0-9A-Fa-f]?$/.exec(s);
      if (tail) {
        this.carry = tail[0];
        s = s.slice(0, tail.index);
      }
    }
    const bytes = Buffer.from(s, 'latin1');
    const out = Buffer.allocUnsafe(bytes.length);
    let o = 0;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c === 0x3d && i + 2 < bytes.length && isHex(bytes[i + 1]!) && isHex(bytes[i + 2]!)) {
        out[o++] = parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
        i += 2;
      } else out[o++] = c;
    }
    return { data: out.subarray(0, o), keepEol: !soft };
  }
  end(): Buffer {
    const r = Buffer.from(this.carry, 'latin1');
    this.carry = '';
    return r;
  }
}

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

class Identity implements Decoder {
  push(b: Buffer): { data: Buffer; keepEol: boolean } {
    return { data: b, keepEol: true };
  }
  end(): Buffer {
    return EMPTY;
  }
}

/** A token with an RFC 822 comment after it (`base64 (note)`) is that token, as mailparser reads it. */
export function decoderFor(cte: string | undefined): Decoder {
  const e = parseStructured(cte).value.trim();
  if (e === 'base64') return new Base64Decoder();
  if (e === 'quoted-printable') return new QuotedPrintableDecoder();
  return new Identity();
}
