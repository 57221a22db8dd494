// The code sheet (the patent's "table in the form of a seal"): every code of a fresh
// card as a seal to cut out and hand over, with its serial and where to redeem it.
// It can be shown only while the freshly issued card's one-time view lasts: the
// server keeps no code in the clear.
import { LOGO_URL, html, when, type Html } from './html.js';

export interface SheetCode {
  serial: string;
  code: string;
  expires?: number;
}

export interface CodeSheet {
  cardId: string;
  purchaser: { name: string; email: string };
  url: string;
  codes: SheetCode[];
}

export function codeSheet(s: CodeSheet): Html {
  return html`<section class="sheet" id="sheet" aria-labelledby="sheet-title">
<h2 id="sheet-title">Codes of ${s.purchaser.name} (card <code class="id">${s.cardId}</code>)</h2>
${s.codes.length === 0 ? html`<p class="muted">This card was issued without codes.</p>` : ''}
<div class="seals">${s.codes.map(
    (c) => html`<div class="seal" data-serial="${c.serial}"><header><img src="${LOGO_URL}" alt="">sealcode code from ${s.purchaser.name}</header>
<p class="code">${c.code}</p>
<dl><dt>Serial</dt><dd><code>${c.serial}</code></dd><dt>Redeem at</dt><dd>${s.url}</dd>${c.expires ? html`<dt>Valid until</dt><dd>${when(c.expires)}</dd>` : ''}</dl>
<p class="how">Open the address, type the code and your email address, and install the Thunderbird add-on you get.</p></div>`,
  )}</div></section>`;
}
