// "CODE: message" of what a call throws, or "ok": one string to compare, so a test
// pins both the error code and the words a user reads.
import { isSealError } from '../../card/index.js';

const describeError = (e: unknown): string => (isSealError(e) ? `${e.code}: ${e.message}` : `other: ${String(e)}`);

export function outcome(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return describeError(e);
  }
}

export async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return describeError(e);
  }
}
