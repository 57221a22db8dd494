// The client side of the online protocol, shared by the CLI and the tests: ask for a
// challenge, sign it with the card's individual key (or the build key), post.
import type { z } from 'zod';
import { SealError, fromBase64, sign, toBase64, type SealErrorCode } from '../card/index.js';
import { API, ChallengeResponse, challengeMessage, type Purpose } from './protocol.js';

const CODES: SealErrorCode[] = ['MALFORMED', 'TAMPERED', 'REFUSED', 'EXPIRED', 'REVOKED', 'NOT_FOR_US', 'BAD_CODE', 'BAD_PASSPHRASE', 'USAGE'];

export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function post(server: string, path: string, body: unknown): Promise<unknown> {
  const url = new URL(API + path, server.endsWith('/') ? server : server + '/');
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new ServerError(0, 'UNREACHABLE', `cannot reach the distributor at ${url.origin}: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ServerError(res.status, 'MALFORMED', `the distributor answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const code = String(json?.error?.code ?? 'ERROR');
    const message = `the distributor refused: ${String(json?.error?.message ?? res.statusText)}`;
    if ((CODES as string[]).includes(code)) throw new SealError(code as SealErrorCode, message);
    throw new ServerError(res.status, code, message);
  }
  return json;
}

/**
 * One challenge–response request: `signer` is the card's (or build's) Ed25519 key, or a
 * function signing with it (a token card's key never leaves the token).
 */
export async function signedRequest<S extends z.ZodType>(
  server: string,
  purpose: Purpose,
  subjectId: string,
  signer: Uint8Array | ((msg: Uint8Array) => Promise<Uint8Array>),
  params: Record<string, string | number>,
  response: S,
): Promise<z.infer<S>> {
  const ch = ChallengeResponse.parse(await post(server, '/challenge', { purpose, subjectId }));
  const msg = challengeMessage({ purpose, subjectId, challengeId: ch.challengeId, nonce: fromBase64(ch.nonce), params });
  const signature = signer instanceof Uint8Array ? sign(signer, msg) : await signer(msg);
  const out = response.safeParse(await post(server, `/${purpose}`, { challengeId: ch.challengeId, subjectId, signature: toBase64(signature), ...params }));
  if (!out.success) throw new SealError('MALFORMED', 'the distributor answered with something unexpected');
  return out.data;
}
