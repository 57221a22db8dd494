// `sealcode card token-info|token-unlock`: what a token card's token holds for it, with
// each object's protection as the token itself reports it, and the security officer's
// reset of sealcode's own wrong-PIN counter.
import type { Command } from 'commander';
import pkcs11js from 'pkcs11js';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import { readInput } from '../files.js';
import { getPin, type PinOptions } from '../pin.js';
import { firstLineOf } from '../passphrase.js';
import { tokenRefOf, type TokenRef } from '../../card/tokencard.js';
import { MAX_PIN_TRIES, Token, type Handle } from '../token/pkcs11.js';
import { ROLES, findRole, type Role } from '../token/card-token.js';

const P = pkcs11js;

function tokenOfCard(file: string): TokenRef {
  const ref = tokenRefOf(readInput(file, 'the card file').toString('utf8'));
  if (!ref) throw new CliError(`${file} is a passphrase card file: its secrets are in the file, not in a token`, EXIT.usage, 'USAGE');
  return ref;
}

const bool = (t: Token, h: Handle, type: number): boolean | string => {
  const v = t.tryAttr(h, type);
  return Buffer.isBuffer(v) ? v[0] === 1 : v.refused;
};

function describe(t: Token, h: Handle, role: Role) {
  const cls = t.attr(h, P.CKA_CLASS).readUInt32LE(0);
  const value = t.tryAttr(h, P.CKA_VALUE);
  return {
    role,
    what: ROLES[role],
    label: t.attr(h, P.CKA_LABEL).toString('utf8'),
    class: cls === P.CKO_PRIVATE_KEY ? 'private key' : cls === P.CKO_SECRET_KEY ? 'secret key' : `class ${cls}`,
    token: bool(t, h, P.CKA_TOKEN),
    private: bool(t, h, P.CKA_PRIVATE),
    sensitive: bool(t, h, P.CKA_SENSITIVE),
    extractable: bool(t, h, P.CKA_EXTRACTABLE),
    alwaysSensitive: bool(t, h, P.CKA_ALWAYS_SENSITIVE),
    neverExtractable: bool(t, h, P.CKA_NEVER_EXTRACTABLE),
    // Asked for, not assumed: the token's own answer to reading the secret.
    valueRead: Buffer.isBuffer(value) ? 'GIVEN OUT' : `refused (${value.refused})`,
  };
}

export function register(_program: Command, groups: Groups): void {
  groups.card
    .command('token-info')
    .description("list a token card's objects in its token and their protection attributes (asks the token for each secret's value: it must refuse)")
    .requiredOption('--card <card_file>', 'the token card file')
    .option('--pin-file <file>', "read the token PIN from this file's first line (default: $SEALCODE_PIN, or a prompt)")
    .option('--json', 'print JSON')
    .action(
      action(async (o: PinOptions & { card: string; json?: boolean }) => {
        const ref = tokenOfCard(o.card);
        const t = Token.open(ref, await getPin(o, `the token "${ref.label}"`));
        try {
          const objects = (Object.keys(ROLES) as Role[]).flatMap((role) => {
            const h = findRole(t, ref.cardId, role);
            return h ? [describe(t, h, role)] : [];
          });
          const out = { cardId: ref.cardId, module: ref.module, token: ref.label, objects, wrongPins: t.wrongPins(), maxWrongPins: MAX_PIN_TRIES };
          print(o, out, () =>
            [
              `card ${out.cardId} in token "${out.token}" (${out.module})`,
              ...objects.map(
                (x) =>
                  `  ${x.role.padEnd(5)} ${x.what}\n        sensitive=${x.sensitive} extractable=${x.extractable} always-sensitive=${x.alwaysSensitive} never-extractable=${x.neverExtractable} private=${x.private}; value: ${x.valueRead}`,
              ),
              `  wrong PINs so far: ${out.wrongPins} of ${out.maxWrongPins}`,
            ].join('\n'),
          );
        } finally {
          t.close();
        }
      }),
    );

  groups.card
    .command('token-unlock')
    .description("reset sealcode's wrong-PIN counter on a card's token (the token's security officer)")
    .requiredOption('--card <card_file>', 'the token card file')
    .requiredOption('--so-pin-file <file>', "the security officer's PIN, first line of this file")
    .option('--json', 'print JSON')
    .action(
      action(async (o: { card: string; soPinFile: string; json?: boolean }) => {
        const ref = tokenOfCard(o.card);
        const soPin = firstLineOf(o.soPinFile, "security officer's PIN");
        const t = Token.connect(ref);
        try {
          t.loginSO(soPin);
          t.setWrongPins(0);
        } finally {
          t.close();
        }
        print(o, { token: ref.label, wrongPins: 0 }, () => `token "${ref.label}": the wrong-PIN counter is reset`);
      }),
    );
}
