// The chess board as a self-contained SVG string: squares, coordinates and pieces as
// Unicode chess glyphs, no image, font or stylesheet fetched from anywhere. Drawn from
// the player's side (black at the bottom for black).
import type { Color } from '../../game/chain.js';

const SQ = 44;
const MARGIN = 18;
const GLYPH: Record<string, string> = { k: '\u265a', q: '\u265b', r: '\u265c', b: '\u265d', n: '\u265e', p: '\u265f' };
const FILES = 'abcdefgh';

export interface BoardOptions {
  /** Whose side is at the bottom. */
  bottom: Color;
  /** The last move's squares, highlighted. */
  lastMove?: { from: string; to: string };
  title?: string;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The placement field of a FEN as 8 ranks (8 down to 1) of 8 cells, '' for empty. */
function placement(fen: string): string[][] {
  const rows = (fen.split(' ')[0] ?? '').split('/');
  if (rows.length !== 8) throw new Error('not a FEN position');
  return rows.map((row) => {
    const cells: string[] = [];
    for (const ch of row) {
      if (/[1-8]/.test(ch)) for (let i = 0; i < Number(ch); i++) cells.push('');
      else if (/[kqrbnpKQRBNP]/.test(ch)) cells.push(ch);
      else throw new Error('not a FEN position');
    }
    if (cells.length !== 8) throw new Error('not a FEN position');
    return cells;
  });
}

export function boardSvg(fen: string, o: BoardOptions): string {
  const cells = placement(fen);
  const size = 8 * SQ + 2 * MARGIN;
  const flip = o.bottom === 'b';
  const marked = new Set([o.lastMove?.from, o.lastMove?.to].filter(Boolean));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img" aria-label="${esc(o.title ?? 'chess board')}">`,
    `<rect width="${size}" height="${size}" fill="#f4f1ea"/>`,
  ];
  for (let r = 0; r < 8; r++)
    for (let f = 0; f < 8; f++) {
      // r = 0 is rank 8 in the FEN; screen row and column depend on the side at the bottom.
      const row = flip ? 7 - r : r;
      const col = flip ? 7 - f : f;
      const x = MARGIN + col * SQ;
      const y = MARGIN + row * SQ;
      const square = `${FILES[f]}${8 - r}`;
      const light = (r + f) % 2 === 0;
      const fill = marked.has(square) ? (light ? '#f6e27f' : '#d8bf45') : light ? '#eeeed2' : '#769656';
      parts.push(`<rect x="${x}" y="${y}" width="${SQ}" height="${SQ}" fill="${fill}" data-square="${square}"/>`);
      const p = cells[r]![f]!;
      if (p) {
        const white = p === p.toUpperCase();
        parts.push(
          `<text x="${x + SQ / 2}" y="${y + SQ * 0.8}" font-size="${SQ * 0.82}" text-anchor="middle" font-family="DejaVu Sans, FreeSerif, sans-serif" fill="${white ? '#ffffff' : '#1b1b1b'}" stroke="${white ? '#1b1b1b' : '#1b1b1b'}" stroke-width="${white ? 1.2 : 0.4}" data-piece="${p}">${GLYPH[p.toLowerCase()]}</text>`,
        );
      }
    }
  for (let i = 0; i < 8; i++) {
    const file = FILES[flip ? 7 - i : i]!;
    const rank = String(flip ? i + 1 : 8 - i);
    const c = MARGIN + i * SQ + SQ / 2;
    parts.push(`<text x="${c}" y="${size - 5}" font-size="11" text-anchor="middle" font-family="sans-serif" fill="#555">${file}</text>`);
    parts.push(`<text x="${MARGIN / 2}" y="${c + 4}" font-size="11" text-anchor="middle" font-family="sans-serif" fill="#555">${rank}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
