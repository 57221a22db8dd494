// A young-generation collection every few MiB of a large stream of bytes (file sealing,
// the gateway's submissions: spool, rewrite, relay). Buffers (node:crypto's update()
// output, file reads, TLS records, base64) live outside V8's heap, and V8 frees them
// only at a collection, which it starts once some 64 MB of them have piled up: resident
// memory grows by that much per thread and keeps touching fresh pages. A minor
// collection (well under a millisecond: little else is young) every few MiB keeps that
// flat. V8 offers no collection call without --expose-gc, so the flag is set just long
// enough to fetch gc() from a fresh context, then cleared again.
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';

// Each collection frees about a MiB at the top of malloc's heap, which glibc hands back
// to the kernel (more than its 128 KiB trim threshold lies free there), so the next
// chunk's buffers fault the same pages in again: three-quarters of a file seal's page
// faults and ~0.2 CPU s/GB. glibc raises that threshold to twice the size of any mmapped
// block it frees (mallopt(3), dynamic mmap threshold), so freeing one 4 MiB buffer once
// keeps those pages resident. Elsewhere it is one allocation.
const KEEP_FREED = 4 << 20;
let minorGc: (() => void) | null | undefined;

function collect(): void {
  if (minorGc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
      minorGc = () => gc({ type: 'minor' });
      let block: Uint8Array | null = new Uint8Array(KEEP_FREED);
      block[0] = 1;
      block = null;
    } catch {
      minorGc = null; // only memory is at stake, not correctness
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  minorGc?.();
}

/** A counter of bytes handled that collects once every `everyBytes` (4 MiB unless said). */
export function garbageMeter(everyBytes = 4 << 20): (n: number) => void {
  let since = 0;
  return (n) => {
    since += n;
    if (since < everyBytes) return;
    since = 0;
    collect();
  };
}
