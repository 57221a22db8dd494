// The game in the message pane (content/game-pane.ts asks, this answers): views of
// the displayed message's .sealgame attachments, and the reply with the next sealed
// move. Its own message channel ({ sealcodeGame }), so the verdict banner's is untouched.
import { fromBase64 } from '../../card/bytes.js';
import { isGameMovePart } from '../../game/format.js';
import { parseState, type GameState } from '../../game/chain.js';
import { messenger } from '../lib/messenger.js';
import { addonPrimitives } from '../lib/primitives.js';
import { replyMove, viewMove, type GameDeps, type GameView } from '../lib/game-logic.js';
import { FLAVOUR } from './flavour.js';
import { loadProfile, openingKeys } from './keys.js';
import { displayedMessageIds } from './display.js';

const m = messenger();
const KEY = (gameId: string): string => `game:${gameId}`;

async function allGames(): Promise<GameState[]> {
  const all = await m.storage.local.get(null);
  const out: GameState[] = [];
  for (const [k, v] of Object.entries(all)) {
    if (!k.startsWith('game:')) continue;
    try {
      out.push(parseState(v));
    } catch {
      /* a damaged record is not offered; the move is then judged as unknown */
    }
  }
  return out;
}

export async function gameDeps(): Promise<GameDeps> {
  return {
    async keys() {
      const k = await openingKeys(FLAVOUR);
      if (FLAVOUR === 'dedicated') {
        const p = await loadProfile();
        return { ...k, addressees: p ? [fromBase64(p.purchaserCert)] : [], why: p ? undefined : 'this is the unstamped template' };
      }
      return { ...k, addressees: [], why: k.party ? undefined : 'unlock your card in the sealcode options to see this move' };
    },
    async load(gameId) {
      const v = (await m.storage.local.get(KEY(gameId)))[KEY(gameId)];
      return v === undefined ? null : parseState(v);
    },
    async findMove(hash) {
      for (const state of await allGames()) {
        const index = state.moves.findIndex((x) => x.hash === hash);
        if (index >= 0) return { state, index };
      }
      return null;
    },
    async save(s) {
      await m.storage.local.set({ [KEY(s.gameId)]: s });
    },
    primitives: await addonPrimitives(),
  };
}

const bytesOf = async (messageId: number, partName: string): Promise<Uint8Array> =>
  new Uint8Array(await (await m.messages.getAttachmentFile(messageId, partName)).arrayBuffer());

export async function gameViews(messageId: number): Promise<GameView[]> {
  const atts = (await m.messages.listAttachments(messageId)).filter((a) => isGameMovePart(a.contentType, a.name));
  if (!atts.length) return [];
  const deps = await gameDeps();
  const out: GameView[] = [];
  for (const a of atts) out.push(await viewMove(await bytesOf(messageId, a.partName ?? ''), { attachment: a.name, partName: a.partName ?? '' }, deps));
  return out;
}

export interface Composed {
  tabId: number;
  attachment: string;
  n: number;
}

/** Plays `san` in answer to the move in `messageId`/`partName` and opens the reply with it attached. */
async function playReply(messageId: number, partName: string, san: string): Promise<Composed> {
  const r = await replyMove(await bytesOf(messageId, partName), san, await gameDeps());
  // beginReply is not in lib/messenger.ts's slice of the API; only the game uses it.
  const compose = m.compose as unknown as { beginReply(id: number, type: string): Promise<{ id: number }> };
  const tab = await compose.beginReply(messageId, 'replyToSender');
  await m.compose.addAttachment(tab.id, { file: r.file, name: r.file.name });
  return { tabId: tab.id, attachment: r.file.name, n: r.n };
}

/** Replies composed from the pane, newest last (the test driver sends them). */
export const composedReplies: Composed[] = [];
export const paneReports: { messageId: number; kinds: string[]; text: string; boards: number }[] = [];

type GameMsg = { sealcodeGame: string; [k: string]: unknown };

async function handle(msg: GameMsg, sender: { tab?: { id: number } }): Promise<unknown> {
  switch (msg.sealcodeGame) {
    case 'view': {
      if (sender.tab?.id === undefined) return [];
      const out = [];
      for (const id of await displayedMessageIds(sender.tab.id)) out.push({ messageId: id, views: await gameViews(id) });
      return out;
    }
    case 'play': {
      const c = await playReply(Number(msg.messageId), String(msg.partName), String(msg.san));
      composedReplies.push(c);
      if (composedReplies.length > 20) composedReplies.shift();
      return c;
    }
    case 'shown':
      paneReports.push({ messageId: Number(msg.messageId), kinds: (msg.kinds as string[]) ?? [], text: String(msg.text), boards: Number(msg.boards) });
      if (paneReports.length > 50) paneReports.shift();
      return true;
    default:
      return undefined;
  }
}

m.runtime.onMessage.addListener((msg, sender) => {
  const g = msg as GameMsg | null;
  if (!g || typeof g.sealcodeGame !== 'string') return undefined;
  return handle(g, sender).then(
    (r) => ({ ok: true, r }),
    (e: unknown) => ({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});

