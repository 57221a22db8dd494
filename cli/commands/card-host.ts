// `sealcode card host`: the purchaser's card behind Thunderbird's native messaging. The
// add-on speaks card/host-protocol.ts over stdin/stdout; the card file is opened with
// its passphrase only on `unlock`, and its secrets are dropped again on `lock` or when
// the unlock time runs out. `--install` writes the manifest where Thunderbird looks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Groups } from '../program.js';
import { action, print } from '../output.js';
import { CliError, EXIT } from '../errors.js';
import type { CardData } from '../../card/cardfile.js';
import { openCardText, type OpenedCard } from '../card-file.js';
import { handOverText } from '../blind-codes.js';
import { syncCodeStates } from '../code-states.js';
import { tokenRefOf } from '../../card/tokencard.js';
import { isSealError } from '../../card/errors.js';
import { ServerError } from '../../distributor/client.js';
import { fromBase64, toBase64 } from '../../card/bytes.js';
import {
  FrameDecoder,
  HOST_NAME,
  encodeFrame,
  fromWire,
  parseRequest,
  toWire,
  type HostInfo,
  type HostRequest,
  type HostResponse,
} from '../../card/host-protocol.js';

/** The purchaser add-on's id; the only extension the manifest lets in by default. */
export const PURCHASER_ADDON_ID = 'purchaser@sealcode.example';

export interface HostState {
  cardPath: string;
  data: CardData | null;
  /** The opened card: its key operations (in memory, or a logged-in token session). */
  card?: OpenedCard;
  until: number;
  timer: NodeJS.Timeout | null;
  pub?: HostInfo['card'];
}

/** Whether the card file asks for a passphrase or a token's PIN (read each time: the file may be replaced). */
function secretOf(cardPath: string): Pick<HostInfo, 'secret' | 'tokenLabel'> {
  try {
    const ref = tokenRefOf(fs.readFileSync(cardPath, 'utf8'));
    return ref ? { secret: 'pin', tokenLabel: ref.label } : { secret: 'passphrase' };
  } catch {
    return {};
  }
}

function info(s: HostState): HostInfo {
  const left = s.data ? Math.max(0, Math.ceil((s.until - Date.now()) / 1000)) : 0;
  return { locked: !s.data, unlockedFor: left, ...secretOf(s.cardPath), ...(s.pub ? { card: s.pub } : {}) };
}

function lock(s: HostState): void {
  if (s.timer) clearTimeout(s.timer);
  s.timer = null;
  s.data = null;
  s.card?.close();
  s.card = undefined;
}

const locked = (): Error => Object.assign(new Error('the card is locked: unlock it with its passphrase (or its token\'s PIN) first'), { hostCode: 'LOCKED' });

/** One request in, one result out; errors are thrown and framed by the caller. */
export async function handle(s: HostState, req: HostRequest): Promise<unknown> {
  switch (req.op) {
    case 'info':
      return info(s);
    case 'lock':
      lock(s);
      return info(s);
    case 'unlock': {
      let text: string;
      try {
        text = fs.readFileSync(s.cardPath, 'utf8');
      } catch {
        throw new CliError(`cannot read the card file ${s.cardPath}`);
      }
      // A token card takes its PIN where a card file takes its passphrase.
      const card = await openCardText(s.cardPath, text, async () => req.passphrase);
      const data = card.data;
      lock(s);
      s.data = data;
      s.card = card;
      s.until = Date.now() + req.minutes * 60_000;
      s.timer = setTimeout(() => lock(s), req.minutes * 60_000);
      s.timer.unref();
      s.pub = {
        cardId: data.cardId,
        name: data.purchaser.name,
        email: data.purchaser.email,
        groupId: data.groupId,
        cert: data.cert,
        issuerPublicKey: data.issuerPublicKey,
        ...(data.distributorUrl ? { distributorUrl: data.distributorUrl } : {}),
      };
      return info(s);
    }
    case 'codes': {
      if (!s.data) throw locked();
      const card = s.card!;
      const texts = await Promise.all(s.data.codes.map((c) => handOverText(card, c)));
      return {
        codes: s.data.codes.map((c, i) => ({ serial: c.serial, code: texts[i]!, state: c.state, ...(c.givenTo ? { givenTo: c.givenTo } : {}) })),
        ...(s.data.distributorUrl ? { distributorUrl: s.data.distributorUrl } : {}),
        groupId: s.data.groupId,
        pairs: s.data.pairs.map((p) => ({ pairId: p.pairId, peerCardId: p.peerCardId })),
      };
    }
    case 'give': {
      if (!s.data || !s.card) throw locked();
      let code: CardData['codes'][number] | undefined;
      // Applied to the newest file (`card sync` may have written it meanwhile), re-sealed the
      // way it was opened (passphrase or token).
      const changed = await s.card.update((d) => {
        code = d.codes.find((x) => x.serial === req.serial);
        if (!code) throw new CliError(`this card holds no code ${req.serial}`);
        // Only an unused code becomes `given`; a later state (in use, used, revoked) is the distributor's word.
        if (!(code.state === 'unused' || (code.state === 'given' && code.givenTo !== req.to))) return false;
        code.state = 'given';
        code.givenTo = req.to;
        return true;
      });
      const c = code!;
      return { code: { serial: c.serial, code: c.code, state: c.state, ...(c.givenTo ? { givenTo: c.givenTo } : {}) }, changed };
    }
    case 'sync': {
      if (!s.data || !s.card) throw locked();
      // Said to someone in Thunderbird, who has no command line to give a URL on.
      if (!req.distributor && !s.data.distributorUrl)
        throw new CliError('your card file names no distributor, so its code states cannot be refreshed; the states shown are those in the card file. Ask the seller who issued your card for a card file that names its distributor');
      const { distributor, at, changed, codes } = await syncCodeStates(s.card, req.distributor);
      return { distributor, at, changed, codes };
    }
    case 'wrap': {
      if (!s.data) throw locked();
      const party = s.card!.party();
      return { stanza: toWire(await party.wrap(req.spec, fromBase64(req.fileKey), fromBase64(req.salt))) };
    }
    case 'unwrap': {
      if (!s.data) throw locked();
      const got = await s.card!.party().unwrap(req.stanzas.map(fromWire));
      return got ? { fileKey: toBase64(got.fileKey), index: got.index } : null;
    }
    case 'sign': {
      if (!s.data) throw locked();
      return { sig: toBase64(await s.card!.party().sign(fromBase64(req.digest))) };
    }
  }
}

function errorBody(e: unknown): Extract<HostResponse, { ok: false }>['error'] {
  const hostCode = (e as { hostCode?: string }).hostCode;
  if (hostCode === 'LOCKED') return { code: 'LOCKED', message: (e as Error).message };
  if (isSealError(e)) return { code: e.code, message: e.message };
  // The distributor's own refusal (rate limit, bad request) is passed on as it said it.
  if (e instanceof ServerError) return { code: 'ERROR', message: e.message };
  // A token's wrong PIN, its lock-out and a missing token keep their own codes; the message says how many tries are left.
  if (e instanceof CliError) return { code: TOKEN_CODES.has(e.code) ? (e.code as 'BAD_PIN') : 'ERROR', message: e.message };
  return { code: 'ERROR', message: 'internal error in the card host' };
}

const TOKEN_CODES = new Set(['BAD_PIN', 'PIN_LOCKED', 'NO_TOKEN']);

/** Serves requests from `input` to `output` until input ends; one at a time, in order. */
export function serve(s: HostState, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<void> {
  const dec = new FrameDecoder();
  let chain = Promise.resolve();
  /** Requests answered off the chain (a sync waits on the network; sealing must not). */
  const aside = new Set<Promise<void>>();
  const done = (): Promise<void> => chain.then(() => Promise.all(aside)).then(() => undefined);
  const send = (r: HostResponse): void => void output.write(encodeFrame(r));
  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = dec.push(new Uint8Array(chunk));
      } catch (e) {
        // A broken frame leaves the stream unsynchronised: answer once and stop.
        send({ id: -1, ok: false, error: errorBody(e) });
        input.removeAllListeners('data');
        void done().then(resolve);
        return;
      }
      for (const m of msgs)
        chain = chain.then(async () => {
          const id = typeof (m as { id?: unknown })?.id === 'number' ? (m as { id: number }).id : -1;
          const answer = (req: HostRequest): Promise<void> =>
            handle(s, req).then(
              (result) => send({ id, ok: true, result }),
              (e: unknown) => send({ id, ok: false, error: errorBody(e) }),
            );
          let req: HostRequest;
          try {
            req = parseRequest(m);
          } catch (e) {
            send({ id, ok: false, error: errorBody(e) });
            return;
          }
          if (req.op !== 'sync') return answer(req);
          const p = answer(req).finally(() => aside.delete(p));
          aside.add(p);
        });
    });
    input.on('end', () => void done().then(resolve));
  });
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface InstallResult {
  manifest: string;
  launcher: string;
}

/** Writes the launcher and $HOME/.mozilla/native-messaging-hosts/sealcode_card.json. */
export function install(cardPath: string, addonIds: string[], home = os.homedir()): InstallResult {
  const dir = path.join(home, '.mozilla', 'native-messaging-hosts');
  fs.mkdirSync(dir, { recursive: true });
  const launcher = path.join(dir, `${HOST_NAME}-launcher.sh`);
  // Thunderbird resolves `#!/usr/bin/env node` through its own PATH: name node absolutely.
  const script = path.resolve(process.argv[1] ?? 'bin/sealcode.js');
  const cmd = [process.execPath, ...process.execArgv, script, 'card', 'host', '--card', path.resolve(cardPath)].map(shq).join(' ');
  fs.writeFileSync(launcher, `#!/bin/sh\n# written by sealcode card host --install\nexec ${cmd}\n`, { mode: 0o755 });
  const manifest = path.join(dir, `${HOST_NAME}.json`);
  const body = {
    name: HOST_NAME,
    description: 'sealcode card host',
    path: launcher,
    type: 'stdio',
    allowed_extensions: addonIds,
  };
  fs.writeFileSync(manifest, JSON.stringify(body, null, 2) + '\n');
  return { manifest, launcher };
}

interface HostOpts {
  card?: string;
  install?: boolean;
  addonId: string[];
  json?: boolean;
}

export function register(_program: Command, groups: Groups): void {
  groups.card
    .command('host')
    .description("serve the card to the Thunderbird add-on over native messaging (stdin/stdout); --install registers it")
    .option('--card <file>', 'the card file (default: $SEALCODE_CARD)')
    .option('--install', "write the native-messaging manifest to $HOME/.mozilla/native-messaging-hosts/ and exit")
    .option('--addon-id <id...>', 'add-on ids allowed to talk to the card', [PURCHASER_ADDON_ID])
    .option('--json', 'machine-readable output (with --install)')
    // Thunderbird appends [manifestPath, addonId]; the launcher drops them, but be lenient.
    .allowExcessArguments(true)
    .action(
      action(async (opts: HostOpts) => {
        const card = opts.card ?? process.env.SEALCODE_CARD;
        if (!card) throw new CliError('name the card file with --card or SEALCODE_CARD', EXIT.usage, 'USAGE');
        if (opts.install) {
          if (!fs.existsSync(card)) throw new CliError(`no card file at ${card}`, EXIT.usage, 'USAGE');
          const r = install(card, opts.addonId);
          print(opts, r, () => `native host installed: ${r.manifest}\nlauncher: ${r.launcher}`);
          return;
        }
        const state: HostState = { cardPath: card, data: null, until: 0, timer: null };
        await serve(state, process.stdin, process.stdout);
        lock(state);
      }),
    );
}
