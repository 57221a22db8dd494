// The gateway certifies game move files (`.sealgame`, application/x-sealcode-game) like
// any seal: found in BODYSTRUCTURE and in fetched sources by name or by type, labelled
// against a real Dovecot, and never sealed a second time on submission.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { nodePrimitives } from '../../card/node.js';
import { GAME_MIME, moveAttachmentName, playMove, sealMove, startGame } from '../../game/index.js';
import { isSealPart } from '../../gateway/imap/parts.js';
import { collectingSink, walkSource } from '../../gateway/imap/walk.js';
import { rewriteMessage } from '../../gateway/smtp/rewrite.js';
import { simpleParser } from 'mailparser';
import type { Limits } from '../../gateway/verdict.js';
import { parseConfig } from '../../gateway/config.js';
import { startGateway, type Gateway } from '../../gateway/service.js';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { partyOfBuild, partyOfCard } from '../support/world.js';
import { PASS, USER, append, cast, compose, flagsOf, gatewayConfig, imapClient, ourKeywords, tmpDir, waitUntil, type Cast } from './support/fixtures.js';

const c: Cast = cast();
const sealFor = { kind: 'code' as const, label: c.serialA };
const state = startGame({ kind: 'build', keyKind: 'code', keyLabel: c.serialA }, sealFor);
const first = playMove(state, 'e4');
const name = moveAttachmentName(first.gameId, first.n);
const byCard = () => sealMove(first, { sender: partyOfCard(c.A), recipient: sealFor, primitives: nodePrimitives });
const byBuild = () => sealMove(first, { sender: partyOfBuild(c.D1), recipient: sealFor, addressees: [c.A.certBytes], primitives: nodePrimitives });
const mail = (content: Uint8Array, filename = name, contentType = GAME_MIME) => compose({ subject: 'your move', attachments: [{ filename, content, contentType }] });

describe('.sealgame in the gateway', () => {
  it('is ours by name or by type, and nothing else is', () => {
    expect(isSealPart('application/octet-stream', 'G-001.SEALGAME')).toBe(true);
    expect(isSealPart(GAME_MIME, 'move')).toBe(true);
    expect(isSealPart(GAME_MIME, undefined)).toBe(true);
    expect(isSealPart('application/octet-stream', 'notes.sealgame.txt')).toBe(false);
    expect(isSealPart('text/plain', 'body.txt')).toBe(false);
  });

  it('is extracted from a fetched source byte for byte', async () => {
    const file = await byCard();
    const sinks: ReturnType<typeof collectingSink>[] = [];
    const limits: Limits = { maxParts: 1000, maxDepth: 32, maxBytes: 1 << 26, maxHeaderBytes: 1 << 20 };
    const r = await walkSource(await mail(file), limits, () => {
      const s = collectingSink();
      sinks.push(s);
      return s;
    });
    expect(r.seals.map((l) => l.filename)).toEqual([name]);
    expect(r.unsealed).toEqual([]);
    expect(sinks[0]!.data().equals(Buffer.from(file))).toBe(true);
  });

  it('is not sealed again on submission, and keeps its name and type', async () => {
    const file = await byCard();
    const dir = tmpDir('sealcode-gw-game-rw-');
    try {
      const inFile = path.join(dir, 'in');
      const outFile = path.join(dir, 'out');
      fs.writeFileSync(inFile, await mail(file, name, 'application/octet-stream'));
      const r = await rewriteMessage(inFile, outFile, {
        seal: { sender: partyOfCard(c.A), recipients: [sealFor], describe: 'card X' },
        limits: { maxParts: 50, maxDepth: 8 },
        tmpDir: dir,
      });
      expect(r.sealed).toEqual([]);
      expect(r.kept).toBe(1);
      const parsed = await simpleParser(fs.readFileSync(outFile));
      expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([[name, GAME_MIME]]);
      expect(Buffer.from(parsed.attachments[0]!.content).equals(Buffer.from(file))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('against a real Dovecot', () => {
    let dc: Dovecot;
    let client: ImapFlow;
    let gw: Gateway;
    let dataDir: string;
    const settled = new Map<number, string | undefined>();

    beforeAll(async () => {
      dc = await startDovecot({ users: [{ user: USER, pass: PASS }] });
      client = await imapClient(dc);
      dataDir = tmpDir('sealcode-gw-game-');
      const file = path.join(dataDir, 'gateway.json');
      fs.writeFileSync(file, JSON.stringify(gatewayConfig(c, dc, dataDir)));
      gw = await startGateway(parseConfig(fs.readFileSync(file, 'utf8'), file), { logger: pino({ level: 'silent' }), onSettled: (e) => settled.set(e.uid, e.label) });
      await gw.ready;
    });

    afterAll(async () => {
      await gw?.stop();
      await client?.logout().catch(() => {});
      await dc?.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('labels card and build moves certified and a changed move tampered', async () => {
      const tampered = await byCard();
      tampered[tampered.length - 70]! ^= 1;
      const expected = new Map<number, string>([
        [await append(client, await mail(await byCard())), '$SealCertified'],
        [await append(client, await mail(await byBuild(), 'move-by-type', GAME_MIME)), '$SealCertified'],
        [await append(client, await mail(tampered)), '$SealTampered'],
      ]);
      await waitUntil(() => [...expected.keys()].every((u) => settled.has(u)), 30_000, 'moves settled');
      const flags = await flagsOf(client);
      for (const [uid, kw] of expected) expect(ourKeywords(flags.get(uid)!), `uid ${uid}`).toEqual([kw]);
    });
  });
});
