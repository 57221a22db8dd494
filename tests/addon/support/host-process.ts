// A real `sealcode card host` process and a call function speaking to it over
// stdin/stdout, as the add-on does through native messaging.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { FrameDecoder, encodeFrame, errorOf, type HostCall } from '../../../card/host-protocol.js';
import { ROOT } from './addon-world.js';

export interface HostProcess {
  call: HostCall;
  raw: (b: Uint8Array) => void;
  proc: ChildProcessWithoutNullStreams;
  replies: unknown[];
}

export function startHost(cardFile: string): HostProcess {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'sealcode.js'), 'card', 'host', '--card', cardFile]);
  const dec = new FrameDecoder();
  const replies: unknown[] = [];
  const waiting = new Map<number, (r: any) => void>();
  proc.stdout.on('data', (b: Buffer) => {
    for (const m of dec.push(new Uint8Array(b)) as any[]) {
      replies.push(m);
      waiting.get(m.id)?.(m);
    }
  });
  let id = 0;
  const call: HostCall = (op, args = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      waiting.set(n, (r) => (r.ok ? resolve(r.result) : reject(errorOf(r.error))));
      proc.stdin.write(encodeFrame({ ...args, id: n, op }));
    });
  return { call, raw: (b) => proc.stdin.write(b), proc, replies };
}
