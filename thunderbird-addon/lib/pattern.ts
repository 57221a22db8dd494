// Deterministic test content (xorshift32), shared by the test driver and tests/addon.
export function patternBytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = Math.imul(seed, 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 255;
  }
  return b;
}
