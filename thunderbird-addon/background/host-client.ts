// The purchaser's link to the card: one native-messaging port (a port costs ~180 ms once,
// then ~2-3 ms per round trip; sendNativeMessage would start a host per call).
import { HOST_NAME, errorOf, type HostCall, type HostResponse } from '../../card/host-protocol.js';
import { messenger, type NativePort } from '../lib/messenger.js';

let port: NativePort | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function connect(): NativePort {
  if (port) return port;
  const p = messenger().runtime.connectNative(HOST_NAME);
  p.onMessage.addListener((m) => {
    const r = m as HostResponse;
    const w = pending.get(r.id);
    if (!w) return;
    pending.delete(r.id);
    if (r.ok) w.resolve(r.result);
    else w.reject(errorOf(r.error));
  });
  p.onDisconnect.addListener((d) => {
    if (port === p) port = null;
    const why = d?.error?.message ?? p.error?.message ?? 'the card host went away';
    for (const [id, w] of pending) {
      pending.delete(id);
      w.reject(new Error(`card host: ${why}`));
    }
  });
  port = p;
  return p;
}

export const hostCall: HostCall = (op, args = {}) =>
  new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    try {
      connect().postMessage({ ...args, id, op });
    } catch (e) {
      pending.delete(id);
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
