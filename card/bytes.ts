// Byte helpers shared by every binary encoding of the format (docs/FORMAT.md §1).
import { malformed } from './errors.js';

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s: string): Uint8Array => te.encode(s);
export const fromUtf8 = (b: Uint8Array): string => {
  try {
    return td.decode(b);
  } catch {
    throw malformed('invalid UTF-8 text');
  }
};

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time comparison: the time depends only on the lengths. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export function fromHex(s: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw malformed('invalid hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
export function fromBase64(s: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw malformed('invalid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Big-endian writer; strings and byte fields carry a u16 length prefix. */
export class Writer {
  private parts: Uint8Array[] = [];
  u8(v: number): this {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError('u16 out of range');
    this.parts.push(Uint8Array.of(v >>> 8, v & 0xff));
    return this;
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.parts.push(b);
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('u64 out of range');
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    this.parts.push(b);
    return this;
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  bytes(b: Uint8Array): this {
    return this.u16(b.length).raw(b);
  }
  str(s: string): this {
    return this.bytes(utf8(s));
  }
  done(): Uint8Array {
    return concat(...this.parts);
  }
}

/** Bounds-checked reader: every overrun is a MALFORMED error, never an exception of another kind. */
export class Reader {
  private off = 0;
  constructor(private readonly buf: Uint8Array) {}
  get offset(): number {
    return this.off;
  }
  get remaining(): number {
    return this.buf.length - this.off;
  }
  private take(n: number): Uint8Array {
    if (n > this.remaining) throw malformed('truncated field');
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }
  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
  u64(): number {
    const b = this.take(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('integer out of range');
    return Number(v);
  }
  raw(n: number): Uint8Array {
    return this.take(n);
  }
  bytes(): Uint8Array {
    return this.take(this.u16());
  }
  fixed(n: number): Uint8Array {
    const b = this.bytes();
    if (b.length !== n) throw malformed(`field must be ${n} bytes`);
    return b;
  }
  str(): string {
    return fromUtf8(this.bytes());
  }
  end(): void {
    if (this.remaining !== 0) throw malformed('trailing bytes');
  }
}
