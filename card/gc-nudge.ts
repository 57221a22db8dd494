// A young-generation collection every few MiB of a large stream of bytes (the gateway's
// submissions: spool, rewrite, relay). Buffers (TLS records,
// file reads, node:crypto output, base64) live outside V8's heap, and V8 frees them only
// at a collection, which it starts once some 64 MB of them have piled up: resident
// memory grows by that much per thread while a 40 MB message goes through, and glibc
// keeps the freed pages in the thread's arena. A minor collection (well under a
// millisecond: little else is young) every 4 MiB keeps that flat. V8 offers no
// collection call without --expose-gc, so the flag is set just long enough to fetch gc()
// from a fresh context. (container/file-node.ts keeps an older copy of the same helper.)
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';

const EVERY_BYTES = 4 << 20;
let minorGc: (() => void) | null | undefined;

function collect(): void {
  if (minorGc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
      minorGc = () => gc({ type: 'minor' });
    } catch {
      minorGc = null; // only memory is at stake, not correctness
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  minorGc?.();
}

/** A counter of bytes handled that collects once every 4 MiB. */
export function garbageMeter(): (n: number) => void {
  let since = 0;
  return (n) => {
    since += n;
    if (since < EVERY_BYTES) return;
    since = 0;
    collect();
  };
}
