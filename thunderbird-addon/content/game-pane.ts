// The game in the message pane: for each .sealgame attachment of the displayed message,
// the board after the move with the opponent's certified name and, on our turn, the
// legal replies; a refused move (tampered, out of sequence, not from the opponent)
// gets a refused banner and never a board.
import type { GameView as View } from '../lib/game-logic.js';

interface Api {
  runtime: {
    sendMessage(m: unknown): Promise<{ ok: boolean; r?: unknown; error?: string } | undefined>;
    onMessage: { addListener(f: (m: unknown) => Promise<unknown> | undefined): void };
  };
}
const api = ((globalThis as unknown as { messenger?: Api; browser?: Api }).messenger ?? (globalThis as unknown as { browser: Api }).browser)!;

const side = (c: string): string => (c === 'w' ? 'white' : 'black');

/** The reply forms on display, by attachment part: what a pick from the background fills in. */
const forms = new Map<string, { button: HTMLButtonElement; select: HTMLSelectElement; result: HTMLElement }>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function statusLine(v: View): string {
  const s = v.status!;
  if (s.over) return `Game over: ${s.result} (${s.reason}).`;
  if (v.yourTurn) return `Your move (${side(v.you!)}).`;
  if (v.answered) return `Already answered; ${side(s.turn)} to move.`;
  return `${side(s.turn)} to move.`;
}

function board(messageId: number, v: View): HTMLElement {
  const box = el('section', 'sealcode-game');
  box.append(el('h2', 'sealcode-game-title', `Chess with ${v.opponent}`));
  if (v.sealedBy) box.append(el('p', 'sealcode-game-origin', `Move certified: sealed by ${v.sealedBy}`));
  // The SVG is built by the add-on itself (lib/game-board.ts); parsed, not injected as HTML.
  const svg = new DOMParser().parseFromString(v.svg!, 'image/svg+xml').documentElement;
  box.append(document.importNode(svg, true));
  const last = v.lastMove ? `Move ${v.lastMove.n}: ${v.lastMove.san} (${side(v.lastMove.by)}). ` : '';
  box.append(el('p', 'sealcode-game-status', last + statusLine(v)));
  if (v.yourTurn && v.legal?.length) {
    // Not a <form>: the message pane is sandboxed without forms, so a submit never fires.
    const row = el('div', 'sealcode-game-play');
    const label = el('label', '', 'Your reply: ');
    const select = el('select', 'sealcode-game-moves');
    select.name = 'san';
    for (const san of v.legal) {
      const o = document.createElement('option');
      o.value = san;
      o.textContent = san;
      select.append(o);
    }
    label.append(select);
    const button = el('button', '', 'Play and compose reply');
    button.type = 'button';
    const result = el('span', 'sealcode-game-result');
    row.append(label, button, result);
    forms.set(v.partName, { button, select, result });
    button.addEventListener('click', () => {
      button.disabled = true;
      void api.runtime.sendMessage({ sealcodeGame: 'play', messageId, partName: v.partName, san: select.value }).then((r) => {
        if (r?.ok) result.textContent = ` Reply composed with move ${(r.r as { n: number }).n}: send it from the compose window.`;
        else {
          result.textContent = ` Not played: ${r?.error ?? 'no answer'}`;
          button.disabled = false;
        }
      });
    });
    box.append(row);
  }
  return box;
}

function refusedBanner(v: View): HTMLElement {
  const cls = v.kind === 'locked' ? 'sealcode-game-locked' : 'sealcode-game-refused';
  const text = v.kind === 'locked' ? `${v.attachment}: game move not opened: ${v.reason}` : `${v.attachment}: game move refused: ${v.reason}`;
  const b = el('div', cls, text);
  b.setAttribute('role', 'alert');
  return b;
}

async function main(): Promise<void> {
  const r = await api.runtime.sendMessage({ sealcodeGame: 'view' });
  if (!r?.ok) return;
  const list = r.r as { messageId: number; views: View[] }[];
  const all = list.flatMap((x) => x.views.map((v) => ({ messageId: x.messageId, v })));
  if (!all.length) return;
  const wrap = el('div', 'sealcode-game-pane');
  for (const { messageId, v } of all) wrap.append(v.kind === 'board' ? board(messageId, v) : refusedBanner(v));
  document.body.prepend(wrap);
  await api.runtime.sendMessage({
    sealcodeGame: 'shown',
    messageId: all[0]!.messageId,
    kinds: all.map((x) => x.v.kind),
    boards: wrap.querySelectorAll('svg').length,
    text: wrap.innerText || wrap.textContent,
  });
}

// The same as choosing in the list and pressing the button (the end-to-end test uses it):
// answers with what the pane then says, once the background has answered.
api.runtime.onMessage.addListener((msg) => {
  const pick = msg as { sealcodeGamePick?: string; partName?: string } | null;
  if (typeof pick?.sealcodeGamePick !== 'string') return undefined;
  const f = forms.get(String(pick.partName));
  if (!f || !Array.from(f.select.options).some((o) => o.value === pick.sealcodeGamePick)) return undefined;
  f.select.value = pick.sealcodeGamePick;
  f.result.textContent = '';
  f.button.click();
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (!f.result.textContent) return;
      clearInterval(poll);
      resolve(f.result.textContent.trim());
    }, 100);
  });
});

void main();
