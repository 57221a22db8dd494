// `sealcode verify IN`: certifies a container's origin without any secret key, as the
// gateway does: issuer-signed certificates, the sender's signature over every byte, and
// the policy against the parties named in the header. Exit 0 certified, 3 refused,
// 4 malformed or tampered.
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { dataOption } from '../data-dir.js';
import { loadStatus, readIssuerPub } from '../issuer-key.js';
import { verifyFile } from '../sealing.js';
import { humanSummary, inPeoplesWords, summarize } from '../describe.js';
import { exitCodeOf } from '../errors.js';
import { SealError } from '../../card/errors.js';

interface VerifyOpts {
  data?: string;
  issuer?: string;
  status?: string;
  json?: boolean;
}

export function register(program: Command, _groups: Groups): void {
  dataOption(
    program
      .command('verify')
      .description('certify who sealed a file and with what, without any secret key (as the gateway does)')
      .argument('<in>', 'the sealed file'),
  )
    .option('--issuer <pubkey_file>', "the issuer's public key (base64), instead of DATA/issuer.pub")
    .option('--status <url_or_file>', "the issuer-signed status list (revoked codes, builds, cards)")
    .option('--json', 'print a JSON object')
    .action(
      action(async (input: string, o: VerifyOpts) => {
        const issuerPub = readIssuerPub(o);
        const status = o.status ? await loadStatus(o.status, issuerPub) : undefined;
        const file = path.basename(input).replace(/\.seal$/i, '');
        const r = await verifyFile(input, issuerPub, status).catch((e: unknown) => {
          throw inPeoplesWords(e, file);
        });
        const s = summarize(r.header, r.verdict, r.addressees);
        print(o, s, () => humanSummary(s, file));
        if (!r.verdict.certified) process.exitCode = exitCodeOf(new SealError(r.verdict.code ?? 'REFUSED', r.verdict.reason));
      }),
    );
}
