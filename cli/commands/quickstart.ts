// `sealcode quickstart` (what `npm start` runs until the distributor service exists):
// the whole flow once, on the embedded defaults, printing each step as the CLI command
// that does the same, and what to try next.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { dataDirOf, dataOption } from '../data-dir.js';
import { writeFileAtomic } from '../files.js';
import { sealFileTo, openFileTo, verifyFile } from '../sealing.js';
import { writeProfile } from './admin.js';
import { initSeller, openSeller } from '../../distributor/seller/seller.js';
import { issueCard } from '../../distributor/seller/cards.js';
import { redeemOffline } from '../../distributor/seller/redemption.js';
import { sealCardFile, cardSecretsOf } from '../../card/cardfile.js';
import { buildParty, buildRecipient, cardParty } from '../../card/party.js';
import { profileCerts, profileSecrets } from '../../card/profile.js';
import { fromBase64 } from '../../card/bytes.js';
import { SealError } from '../../card/errors.js';

const shq = (s: string): string => (/^[\w./@:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function register(program: Command, _groups: Groups): void {
  dataOption(program.command('quickstart').description('initialise a data folder and run the whole flow once: card, code, redemption, sealed files both ways'))
    .option('--json', 'print a JSON summary')
    .action(
      action(async (o: { data?: string; json?: boolean }) => {
        const dir = dataDirOf(o);
        const rel = (p: string): string => {
          const r = path.relative(process.cwd(), p);
          return r && !r.startsWith('..') ? r : p;
        };
        const log: string[] = [];
        const step = (what: string, cmd: string): void => {
          log.push(`• ${what}\n    $ ${cmd}`);
        };
        const dataFlag = `--data ${shq(rel(dir))}`;
        // Printed commands must run as printed: `sealcode` only when that is how we were
        // started (an installed package), else the way to reach this very script.
        const self = process.argv[1] ?? 'sealcode';
        const cli = path.basename(self) === 'sealcode' ? 'sealcode' : `node ${shq(rel(self))}`;

        const init = await initSeller(dir);
        step(init.created ? `initialised the seller's data folder ${rel(dir)}` : `the data folder ${rel(dir)} was already initialised`, `${cli} init ${dataFlag}`);

        const demo = path.join(dir, 'quickstart');
        fs.mkdirSync(demo, { recursive: true });
        const f = (name: string): string => path.join(demo, name);
        // What the "try next" lines write: gone, so that they run again after a re-run.
        for (const out of ['someone.profile.json', 'bob.card', 'reply.for-group.seal']) fs.rmSync(f(out), { force: true });
        // The demo card's passphrase: the user's, or a random one kept in a 0600 file
        // beside the card, so that it is never printed.
        let passphrase = process.env.SEALCODE_PASSPHRASE;
        let passFlag = '';
        if (!passphrase) {
          passphrase = randomBytes(18).toString('base64url');
          writeFileAtomic(f('alice.passphrase'), passphrase + '\n', 0o600);
          passFlag = ` --passphrase-file ${shq(rel(f('alice.passphrase')))}`;
        }

        const seller = await openSeller(dir);
        let cardId: string, groupId: string, serial: string, buildId: string, nextCode: string;
        try {
          const issued = await issueCard(seller, { name: 'Alice Demo', email: 'alice@example.test', codes: 5 });
          ({ cardId, groupId } = issued);
          step(`issued card ${cardId} (group ${groupId}) with 5 codes to Alice → ${rel(f('alice.card'))}`, `${cli} admin issue-card --name 'Alice Demo' --email alice@example.test ${dataFlag} --out ${shq(rel(f('alice.card')))}`);

          const code = issued.data.codes[0]!;
          nextCode = issued.data.codes[1]!.code;
          serial = code.serial;
          const g = await redeemOffline(seller, { code: code.code, email: 'dana@example.test' });
          buildId = g.buildId;
          writeProfile(f('dana.profile.json'), g);
          // The card remembers to whom its codes were given (the seller's database knows the rest).
          issued.data.codes[0] = { ...code, state: 'given', givenTo: 'dana@example.test' };
          writeFileAtomic(f('alice.card'), await sealCardFile(issued.data, passphrase), 0o600);
          step(`Alice handed code ${serial} to Dana, who redeemed it: dedicated build ${buildId} → ${rel(f('dana.profile.json'))}`, `${cli} admin redeem CODE --email dana@example.test ${dataFlag} --out ${shq(rel(f('dana.profile.json')))}`);

          const alice = cardParty(cardSecretsOf(issued.data));
          const issuerPub = fromBase64(issued.data.issuerPublicKey);
          const profile = g.profile;
          const dana = buildParty(profileSecrets(profile));

          const hello = f('hello.txt');
          fs.writeFileSync(hello, `Hello Dana, this file was sealed with Alice's card at ${new Date().toISOString()}.\n`);
          fs.rmSync(hello + '.seal', { force: true });
          await sealFileTo(hello, hello + '.seal', { sender: alice, recipients: [{ kind: 'code', label: serial }] });
          step(`Alice sealed ${rel(hello)} for code ${serial}`, `${cli} card encrypt --card ${shq(rel(f('alice.card')))}${passFlag} --to ${serial} ${shq(rel(hello))}`);

          const v = await verifyFile(hello + '.seal', issuerPub);
          step(`a keyless check (as the gateway does): ${v.verdict.certified ? 'certified' : 'NOT certified'}, sealed by ${v.verdict.sealedBy}`, `${cli} verify ${dataFlag} ${shq(rel(hello + '.seal'))}`);

          const got = f('hello.from-alice.txt');
          fs.rmSync(got, { force: true });
          const opened = await openFileTo(hello + '.seal', () => got, { receiver: dana, issuerPub });
          if (!fs.readFileSync(got).equals(fs.readFileSync(hello))) throw new SealError('TAMPERED', 'quickstart: the opened file differs');
          step(`Dana opened it with her dedicated build: ${opened.verdict.reason} → ${rel(got)}`, `${cli} dedicated decrypt --build ${shq(rel(f('dana.profile.json')))} ${shq(rel(hello + '.seal'))} -o ${shq(rel(got))}`);

          const reply = f('reply.txt');
          fs.writeFileSync(reply, 'Hello Alice, thanks: this reply was sealed by my dedicated build.\n');
          fs.rmSync(reply + '.seal', { force: true });
          await sealFileTo(reply, reply + '.seal', {
            sender: dana,
            recipients: [buildRecipient(profileCerts(profile).build)],
            addressees: [fromBase64(profile.purchaserCert)],
          });
          step(`Dana sealed a reply; her build can seal only for Alice`, `${cli} dedicated encrypt --build ${shq(rel(f('dana.profile.json')))} ${shq(rel(reply))}`);

          const back = f('reply.from-dana.txt');
          fs.rmSync(back, { force: true });
          const o2 = await openFileTo(reply + '.seal', () => back, { receiver: alice, issuerPub });
          if (!fs.readFileSync(back).equals(fs.readFileSync(reply))) throw new SealError('TAMPERED', 'quickstart: the opened reply differs');
          step(`Alice opened the reply with her card: ${o2.verdict.reason} → ${rel(back)}`, `${cli} card decrypt --card ${shq(rel(f('alice.card')))}${passFlag} ${shq(rel(reply + '.seal'))} -o ${shq(rel(back))}`);
        } finally {
          await seller.close();
        }

        const card = `--card ${shq(rel(f('alice.card')))}${passFlag}`;
        // Runnable as printed: a real unused code, outputs inside the demo folder.
        const next = [
          `${cli} card codes ${card}`,
          `${cli} admin redeem ${nextCode} --email someone@example.test ${dataFlag} --out ${shq(rel(f('someone.profile.json')))}`,
          `${cli} admin issue-card --name Bob --email bob@example.test --group ${groupId} ${dataFlag}${passFlag} --out ${shq(rel(f('bob.card')))}`,
          `${cli} card encrypt ${card} --to group ${shq(rel(f('reply.txt')))} -o ${shq(rel(f('reply.for-group.seal')))}`,
          `${cli} verify ${dataFlag} ${shq(rel(f('reply.for-group.seal')))}`,
          `${cli} --help`,
        ];
        print(
          o,
          { dataDir: dir, folder: demo, cardId, groupId, serial, buildId, steps: log.length, next },
          () => [`sealcode quickstart: the whole flow, once, in ${rel(demo)}`, '', ...log, '', 'Try next:', ...next.map((n) => `    $ ${n}`)].join('\n'),
        );
      }),
    );
}
