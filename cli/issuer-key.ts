// The issuer's public key for keyless checks: --issuer FILE, or DATA/issuer.pub.
import fs from 'node:fs';
import path from 'node:path';
import { fromBase64 } from '../card/bytes.js';
import { malformed } from '../card/errors.js';
import { verifyStatus, type StatusList } from '../card/status.js';
import { ISSUER_PUB_FILE } from '../distributor/seller/seller.js';
import { CliError, EXIT } from './errors.js';
import { dataDirOf } from './data-dir.js';

export function readIssuerPub(opts: { issuer?: string; data?: string }): Uint8Array {
  const file = opts.issuer ?? path.join(dataDirOf(opts), ISSUER_PUB_FILE);
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch {
    throw new CliError(
      opts.issuer ? `cannot read the issuer key ${file}` : `no issuer key at ${file}: pass --issuer FILE or --data DIR`,
      EXIT.usage,
      'USAGE',
    );
  }
  if (raw.length === 32) return new Uint8Array(raw);
  const key = fromBase64(raw.toString('utf8').trim());
  if (key.length !== 32) throw malformed(`${file} is not an issuer public key (32 bytes, base64)`);
  return key;
}

/** The issuer-signed status list from an http(s) URL or a file. */
export async function loadStatus(where: string, issuerPub: Uint8Array): Promise<StatusList> {
  let text: string;
  if (/^https?:\/\//i.test(where)) {
    let res: Response;
    try {
      res = await fetch(where, { signal: AbortSignal.timeout(15_000) });
    } catch (e) {
      throw new CliError(`cannot fetch the status list from ${where}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new CliError(`cannot fetch the status list from ${where}: HTTP ${res.status}`);
    text = await res.text();
  } else {
    try {
      text = fs.readFileSync(where.replace(/^file:\/\//, ''), 'utf8');
    } catch {
      throw new CliError(`cannot read the status list ${where}`, EXIT.usage, 'USAGE');
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed('the status list is not JSON');
  }
  return verifyStatus(json as Parameters<typeof verifyStatus>[0], issuerPub);
}
