// The seller console's pages. Every form posts with a CSRF token; tables have headers.
import { csrfField, html, layout, when, type Html } from './html.js';

const nav = (csrf: string): Html => html`<a href="/console">Cards</a><a href="/console/codes">Codes</a>
<a href="/console/redemptions">Redemptions and builds</a><a href="/console/payments">Payments</a><a href="/console/payback">Pay-back</a>
<form class="inline" method="post" action="/console/logout">${csrfField(csrf)}<button type="submit">Log out</button></form>`;

export const consolePage = (title: string, csrf: string, body: Html): Html => layout(title, body, nav(csrf));

export function loginPage(csrf: string, error?: string): Html {
  return layout(
    'Seller console: log in',
    html`${error ? html`<div class="error" role="alert" id="error"><p>${error}</p></div>` : ''}
<form method="post" action="/console/login">${csrfField(csrf)}
<label for="password">Console password</label>
<input id="password" name="password" type="password" required autocomplete="current-password" aria-describedby="pw-hint">
<p id="pw-hint">It is in the file <code>console-password</code> of the data folder.</p>
<button type="submit">Log in</button></form>`,
  );
}

export interface CardListRow {
  id: string;
  purchaser_id: string;
  name: string;
  email: string;
  group_id: string;
  module_kind: string;
  max_codes: number;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
  codes: number;
  unused: number;
}

export function cardsPage(csrf: string, cards: CardListRow[], groups: string[], notice?: string, error?: string): Html {
  return consolePage(
    'Purchasers and cards',
    csrf,
    html`${notice ? html`<div class="ok" role="status"><p>${notice}</p></div>` : ''}
${error ? html`<div class="error" role="alert" id="error"><p>${error}</p></div>` : ''}
<h2>Issue a card</h2>
<form method="post" action="/console/cards">${csrfField(csrf)}
<label for="name">Purchaser name</label><input id="name" name="name" required maxlength="200">
<label for="email">Purchaser email</label><input id="email" name="email" type="email" required maxlength="254">
<label for="purchaserId">Existing purchaser id (optional)</label><input id="purchaserId" name="purchaserId" maxlength="64" aria-describedby="pid-hint">
<p id="pid-hint">Leave empty for a new purchaser; give an id from the table below for a purchaser's further card.</p>
<label for="moduleKind">Module kind</label><select id="moduleKind" name="moduleKind"><option value="keyfile">key file (passphrase-sealed)</option><option value="pkcs11">PKCS#11 token</option></select>
<label for="group">Group</label><select id="group" name="group"><option value="new">A new group</option>
${groups.map((g) => html`<option value="${g}">${g}</option>`)}</select>
<label for="codes">Codes on the card</label><input id="codes" name="codes" type="number" min="0" max="1000" value="10" required>
<label for="maxCodes">Most codes the card may ever hold</label><input id="maxCodes" name="maxCodes" type="number" min="1" max="100000" value="1000" required>
<label for="amount">Amount paid (cents)</label><input id="amount" name="amount" type="number" min="0" value="0" required>
<label for="passphrase">Card file passphrase</label><input id="passphrase" name="passphrase" type="password" required minlength="8" autocomplete="new-password" aria-describedby="pp-hint">
<p id="pp-hint">At least 8 characters. Tell it to the purchaser separately from the card file.</p>
<label for="passphrase2">Passphrase again</label><input id="passphrase2" name="passphrase2" type="password" required minlength="8" autocomplete="new-password">
<button type="submit">Issue the card and download its file</button></form>
<h2>Cards</h2>
<table><caption>All issued cards</caption><thead><tr><th scope="col">Card</th><th scope="col">Purchaser</th><th scope="col">Group</th>
<th scope="col">Codes (unused) / most</th><th scope="col">Issued</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col">Action</th></tr></thead><tbody>
${cards.map(
  (c) => html`<tr><td><a href="/console/codes?card=${c.id}">${c.id}</a></td><td>${c.name} &lt;${c.email}&gt;<br><code>${c.purchaser_id}</code></td><td>${c.group_id}</td>
<td>${c.codes} (${c.unused}) / ${c.max_codes}</td><td>${when(c.issued_at)}</td><td>${when(c.expires_at)}</td><td>${c.revoked_at ? 'revoked' : 'active'}</td>
<td>${c.revoked_at ? '' : html`<form class="inline" method="post" action="/console/cards/${c.id}/revoke">${csrfField(csrf)}<button type="submit" aria-label="Revoke card ${c.id}">Revoke</button></form>`}</td></tr>`,
)}</tbody></table>`,
  );
}

export interface CodeListRow {
  serial: string;
  card_id: string;
  kind: string;
  state: string;
  copies_allowed: number;
  parent_build_id: string | null;
  expires_at: number;
  state_changed_at: number;
}

export function codesPage(csrf: string, rows: CodeListRow[], filter: { card?: string; state?: string }): Html {
  const states = ['', 'unused', 'in_use', 'already_used', 'revoked'];
  return consolePage(
    'Codes',
    csrf,
    html`<form method="get" action="/console/codes"><label for="card">Card</label><input id="card" name="card" value="${filter.card ?? ''}">
<label for="state">State</label><select id="state" name="state">${states.map((s) => html`<option value="${s}" ${s === (filter.state ?? '') ? html`selected` : ''}>${s || 'any'}</option>`)}</select>
<button type="submit">Show</button></form>
<table id="codes"><caption>Codes (serials only: the secret part is never stored)</caption><thead><tr><th scope="col">Serial</th><th scope="col">Card</th><th scope="col">Kind</th>
<th scope="col">State</th><th scope="col">Expires</th><th scope="col">Changed</th><th scope="col">Action</th></tr></thead><tbody>
${rows.map(
  (c) => html`<tr data-serial="${c.serial}"><td><code>${c.serial}</code></td><td>${c.card_id}</td><td>${c.kind}${c.kind === 'copy' ? ` ×${c.copies_allowed} of ${c.parent_build_id}` : ''}</td>
<td class="state">${c.state}</td><td>${when(c.expires_at)}</td><td>${when(c.state_changed_at)}</td>
<td>${c.state === 'revoked' ? '' : html`<form class="inline" method="post" action="/console/codes/${c.serial}/revoke">${csrfField(csrf)}<button type="submit" aria-label="Revoke code ${c.serial}">Revoke</button></form>`}</td></tr>`,
)}</tbody></table>`,
  );
}

export interface RedemptionListRow {
  id: string;
  serial: string;
  build_id: string;
  redeemer_email: string;
  copy_of: string | null;
  granted_at: number;
  completed_at: number | null;
  revoked_at: number | null;
  build_expires_at: number;
}

export function redemptionsPage(csrf: string, rows: RedemptionListRow[]): Html {
  return consolePage(
    'Redemptions and builds',
    csrf,
    html`<table><caption>Dedicated builds handed out</caption><thead><tr><th scope="col">Build</th><th scope="col">Code</th><th scope="col">Redeemer</th>
<th scope="col">Copy of</th><th scope="col">Granted</th><th scope="col">Downloaded</th><th scope="col">Build expires</th><th scope="col">State</th><th scope="col">Action</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr data-build="${r.build_id}"><td><code>${r.build_id}</code></td><td><code>${r.serial}</code></td><td>${r.redeemer_email}</td><td>${r.copy_of ?? ''}</td>
<td>${when(r.granted_at)}</td><td>${when(r.completed_at)}</td><td>${when(r.build_expires_at)}</td><td>${r.revoked_at ? 'revoked' : r.completed_at ? 'downloaded' : 'download open'}</td>
<td>${r.revoked_at ? '' : html`<form class="inline" method="post" action="/console/builds/${r.build_id}/revoke">${csrfField(csrf)}<button type="submit" aria-label="Revoke build ${r.build_id}">Revoke</button></form>`}</td></tr>`,
)}</tbody></table>`,
  );
}

export interface PaymentListRow {
  id: string;
  purchaser_id: string;
  name: string;
  card_id: string | null;
  kind: string;
  quantity: number;
  amount_cents: number;
  currency: string;
  reference: string | null;
  created_at: number;
}

export function paymentsPage(csrf: string, rows: PaymentListRow[]): Html {
  return consolePage(
    'Payments',
    csrf,
    html`<table><caption>Payments received</caption><thead><tr><th scope="col">When</th><th scope="col">Purchaser</th><th scope="col">Card</th><th scope="col">For</th>
<th scope="col">Quantity</th><th scope="col">Amount</th><th scope="col">Reference</th></tr></thead><tbody>
${rows.map(
  (p) => html`<tr><td>${when(p.created_at)}</td><td>${p.name}</td><td>${p.card_id ?? ''}</td><td>${p.kind}</td><td>${p.quantity}</td>
<td>${(p.amount_cents / 100).toFixed(2)} ${p.currency}</td><td>${p.reference ?? ''}</td></tr>`,
)}</tbody></table>`,
  );
}

export function paybackPage(csrf: string, rows: { purchaser_name: string; purchaser_email: string; rule: string; source: string; amount_cents: number; points: number; created_at: number }[], currency: string, rulesText: string): Html {
  return consolePage(
    'Pay-back',
    csrf,
    html`<p><a href="/console/payback.csv" download>Download as CSV</a></p>
<details><summary>Rules in force</summary><pre>${rulesText}</pre></details>
<table id="payback"><caption>Credits owed to purchasers</caption><thead><tr><th scope="col">When</th><th scope="col">Purchaser</th><th scope="col">Rule</th>
<th scope="col">Source</th><th scope="col">Amount</th><th scope="col">Points</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${when(r.created_at)}</td><td>${r.purchaser_name} &lt;${r.purchaser_email}&gt;</td><td>${r.rule}</td><td>${r.source}</td>
<td>${(r.amount_cents / 100).toFixed(2)} ${currency}</td><td>${r.points}</td></tr>`,
)}</tbody></table>`,
  );
}
