// The seller console's pages. Every form posts with a CSRF token; every destructive
// action has its own confirmation page; tables stack on narrow screens.
import type { PaybackRules } from '../../seller/payback.js';
import { codeSheet, type CodeSheet } from './codesheet.js';
import { badge, csrfField, dataTable, flash, html, layout, when, type Html } from './html.js';

/** A console timestamp; the column header says UTC. */
const at = (t: number | null | undefined): Html => (t ? html`<span class="nowrap">${when(t).replace(' UTC', '')}</span>` : html``);

export type ConsoleSection = 'cards' | 'codes' | 'redemptions' | 'payments' | 'payback';
const SECTIONS: [ConsoleSection, string, string][] = [
  ['cards', '/console', 'Cards'],
  ['codes', '/console/codes', 'Codes'],
  ['redemptions', '/console/redemptions', 'Redemptions'],
  ['payments', '/console/payments', 'Payments'],
  ['payback', '/console/payback', 'Pay-back'],
];

const nav = (csrf: string, current?: ConsoleSection): Html => html`<ul class="links">${SECTIONS.map(
  ([k, href, label]) => html`<li><a href="${href}"${k === current ? html` aria-current="page"` : ''}>${label}</a></li>`,
)}<li><form class="inline" method="post" action="/console/logout">${csrfField(csrf)}<button type="submit" class="secondary outline">Log out</button></form></li></ul>`;

const HOME = { href: '/console', label: 'seller console' };
export const consolePage = (title: string, csrf: string, body: Html, current?: ConsoleSection): Html =>
  layout(title, body, { nav: nav(csrf, current), home: HOME });

export function loginPage(csrf: string, error?: string): Html {
  return layout(
    'Log in to the seller console',
    html`${error ? flash('error', error, 'error') : ''}
<form method="post" action="/console/login">${csrfField(csrf)}
<label for="password">Console password</label>
<input id="password" name="password" type="password" required autocomplete="current-password" aria-describedby="pw-hint">
<small id="pw-hint">It is in the file <code>console-password</code> of the data folder.</small>
<button type="submit">Log in</button></form>`,
    { home: HOME, narrow: true },
  );
}

/** A flash message from the previous action, if any. */
const notice = (message?: string): Html => (message ? flash('ok', message, 'notice') : html``);

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

export interface GroupRow {
  id: string;
  members: { name: string; email: string }[];
}
export interface PurchaserRow {
  id: string;
  name: string;
  email: string;
}

/** A group as people know it: by whom it holds. */
export const groupLabel = (g: GroupRow): string =>
  `${g.members.length === 0 ? 'Empty group' : g.members.map((m) => m.name).join(', ')} (${g.id})`;

export type IssueField = 'name' | 'email' | 'purchaserId' | 'group' | 'codes' | 'maxCodes' | 'amount' | 'passphrase' | 'passphrase2';
export interface IssueFormState {
  values: Partial<Record<IssueField, string>>;
  /** By field; moduleKind has no field of its own and shows in the summary only. */
  errors: Partial<Record<IssueField | 'moduleKind', string>>;
}
const BLANK_FORM: IssueFormState = { values: { codes: '10', maxCodes: '1000', amount: '0', group: 'new', purchaserId: '' }, errors: {} };

function field(f: IssueFormState, name: IssueField, label: string, input: (attrs: Html) => Html, hint?: string): Html {
  const err = f.errors[name];
  const describedBy = [err ? `${name}-error` : '', hint ? `${name}-hint` : ''].filter(Boolean).join(' ');
  const attrs = html`id="${name}" name="${name}"${err ? html` aria-invalid="true"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}`;
  return html`<label for="${name}">${label}</label>${input(attrs)}${err ? html`<small id="${name}-error" class="field-error">${err}</small>` : ''}${
    hint ? html`<small id="${name}-hint">${hint}</small>` : ''
  }`;
}

function issueForm(csrf: string, groups: GroupRow[], purchasers: PurchaserRow[], f: IssueFormState): Html {
  const v = f.values;
  const opt = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
  return html`<form method="post" action="/console/cards" novalidate>${csrfField(csrf)}
<fieldset class="grid">
<div>${field(f, 'name', 'Purchaser name', (a) => html`<input ${a} required maxlength="200" autocomplete="off" value="${v.name ?? ''}">`)}</div>
<div>${field(f, 'email', 'Purchaser email', (a) => html`<input ${a} type="email" required maxlength="254" autocomplete="off" value="${v.email ?? ''}">`)}</div>
</fieldset>
<fieldset class="grid">
<div>${field(
    f,
    'purchaserId',
    'Purchaser',
    (a) => html`<select ${a}>${opt('', 'A new purchaser', !v.purchaserId)}${purchasers.map((p) => opt(p.id, `${p.name} <${p.email}>`, v.purchaserId === p.id))}</select>`,
    'Pick an existing purchaser for their further card.',
  )}</div>
<div>${field(
    f,
    'group',
    'Group',
    (a) => html`<select ${a}>${opt('new', 'A new group', !v.group || v.group === 'new')}${groups.map((g) => opt(g.id, groupLabel(g), v.group === g.id))}</select>`,
    'Cards in one group open each other’s sealed data.',
  )}</div>
</fieldset>
<fieldset class="grid">
<div>${field(f, 'codes', 'Codes on the card', (a) => html`<input ${a} type="number" min="0" max="1000" required value="${v.codes ?? ''}">`)}</div>
<div>${field(f, 'maxCodes', 'Most codes the card may ever hold', (a) => html`<input ${a} type="number" min="1" max="100000" required value="${v.maxCodes ?? ''}">`)}</div>
<div>${field(f, 'amount', 'Amount paid (cents)', (a) => html`<input ${a} type="number" min="0" required value="${v.amount ?? ''}">`)}</div>
</fieldset>
<fieldset class="grid">
<div>${field(
    f,
    'passphrase',
    'Card file passphrase',
    (a) => html`<input ${a} type="password" required minlength="8" autocomplete="new-password">`,
    'At least 8 characters. Tell it to the purchaser separately from the card file.',
  )}</div>
<div>${field(f, 'passphrase2', 'Passphrase again', (a) => html`<input ${a} type="password" required minlength="8" autocomplete="new-password">`)}</div>
</fieldset>
<p class="muted">The card is a key file sealed with this passphrase.</p>
<button type="submit">Issue the card</button></form>`;
}

export function cardsPage(
  csrf: string,
  o: { cards: CardListRow[]; groups: GroupRow[]; purchasers: PurchaserRow[]; notice?: string; pending?: CodeSheet; form?: IssueFormState },
): Html {
  const f = o.form ?? BLANK_FORM;
  const problems = Object.entries(f.errors);
  // In the table the card's own row says which group; its members' names are enough there.
  const groupMembers = new Map(o.groups.map((g) => [g.id, g.members.map((m) => m.name).join(', ')]));
  return consolePage(
    'Purchasers and cards',
    csrf,
    html`${notice(o.notice)}
${o.pending ? flash('warn', html`<p>The card file and code sheet of the card for <strong>${o.pending.purchaser.name}</strong> are still waiting: <a href="/console/issued" id="pending">open them</a>, then press Done. Issuing another card now replaces that view.</p>`) : ''}
${problems.length ? flash('error', html`<p><strong>The card was not issued.</strong> Correct what is marked below; for your safety the passphrases were not kept, so type them again.</p><ul>${problems.map(([k, p]) => (k === 'moduleKind' ? html`<li>${p}</li>` : html`<li><a href="#${k}">${p}</a></li>`))}</ul>`, 'error') : ''}
<article><header><h2>Issue a card</h2></header>${issueForm(csrf, o.groups, o.purchasers, f)}</article>
<h2>Cards</h2>
${dataTable({
  id: 'cards',
  caption: 'All issued cards, newest first',
  head: ['Purchaser and card', 'Group', 'Codes', 'Issued, expires (UTC)', 'State', 'Actions'],
  empty: 'no card issued yet.',
  rows: o.cards.map((c) => ({
    attrs: html`data-card="${c.id}" data-state="${c.revoked_at ? 'revoked' : 'active'}"`,
    cells: [
      html`<strong>${c.name}</strong><br><span class="muted">${c.email}</span><br><code class="id">${c.id}</code>`,
      groupMembers.get(c.group_id) ?? c.group_id,
      html`${c.unused} unused of ${c.codes}<br><span class="muted">at most ${c.max_codes}</span>`,
      html`${at(c.issued_at)}<br><span class="muted">until ${at(c.expires_at)}</span>`,
      c.revoked_at ? badge('revoked') : badge('active'),
      html`<a href="/console/codes?card=${c.id}">Codes</a>${c.revoked_at ? '' : html` · <a href="/console/cards/${c.id}/revoke">Revoke…</a>`}`,
    ],
  })),
})}
<h2>Groups</h2>
${dataTable({
  id: 'groups',
  caption: 'Groups and their members',
  head: ['Members', 'Group id'],
  empty: 'no group yet.',
  rows: o.groups.map((g) => ({
    cells: [g.members.length ? g.members.map((m, i) => html`${i ? ', ' : ''}${m.name} <span class="muted">&lt;${m.email}&gt;</span>`) : html`<span class="muted">no cards</span>`, html`<code class="id">${g.id}</code>`],
  })),
})}`,
    'cards',
  );
}

/** The one page between a revoke link and the revocation itself. */
export function confirmPage(csrf: string, o: { title: string; what: Html; consequence: string; action: string; button: string; cancel: string; section: ConsoleSection }): Html {
  return consolePage(
    o.title,
    csrf,
    html`<article><p>${o.what}</p>${flash('warn', o.consequence)}
<form method="post" action="${o.action}" class="actions">${csrfField(csrf)}<button type="submit" class="danger">${o.button}</button><a href="${o.cancel}" role="button" class="secondary outline">Cancel</a></form></article>`,
    o.section,
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

const CODE_STATES: [string, string][] = [
  ['', 'any state'],
  ['unused', 'unused'],
  ['in_use', 'being downloaded'],
  ['already_used', 'used'],
  ['revoked', 'revoked'],
];
const stateLabel = (s: string): string => CODE_STATES.find(([k]) => k === s)?.[1] ?? s;

export function codesPage(csrf: string, rows: CodeListRow[], filter: { card?: string; state?: string }, message?: string): Html {
  return consolePage(
    'Codes',
    csrf,
    html`${notice(message)}<form method="get" action="/console/codes"><fieldset class="grid">
<div><label for="card">Card</label><input id="card" name="card" value="${filter.card ?? ''}" placeholder="all cards"></div>
<div><label for="state">State</label><select id="state" name="state">${CODE_STATES.map(([s, l]) => html`<option value="${s}"${s === (filter.state ?? '') ? html` selected` : ''}>${l}</option>`)}</select></div>
</fieldset><button type="submit" class="secondary">Show</button></form>
${dataTable({
  id: 'codes',
  caption: 'Codes (serials only: the secret part is never stored)',
  head: ['Serial', 'Card', 'Kind', 'State', 'Expires (UTC)', 'Changed (UTC)', 'Actions'],
  empty: 'no code matches.',
  rows: rows.map((c) => ({
    attrs: html`data-serial="${c.serial}" data-state="${c.state}"`,
    cells: [
      html`<code>${c.serial}</code>`,
      html`<code class="id">${c.card_id}</code>`,
      c.kind === 'copy' ? html`copy code, ${c.copies_allowed} of <code class="id">${c.parent_build_id}</code>` : 'code',
      badge(c.state, stateLabel(c.state)),
      at(c.expires_at),
      at(c.state_changed_at),
      c.state === 'revoked' ? '' : html`<a href="/console/codes/${c.serial}/revoke">Revoke…</a>`,
    ],
  })),
})}`,
    'codes',
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

export function redemptionsPage(csrf: string, rows: RedemptionListRow[], message?: string): Html {
  return consolePage(
    'Redemptions and builds',
    csrf,
    html`${notice(message)}${dataTable({
      id: 'builds',
      caption: 'Dedicated add-ons handed out',
      head: ['Redeemer', 'Add-on', 'Granted (UTC)', 'Downloaded (UTC)', 'Expires (UTC)', 'State', 'Actions'],
      empty: 'nobody has redeemed a code yet.',
      rows: rows.map((r) => {
        const st = r.revoked_at ? 'revoked' : r.completed_at ? 'already_used' : 'in_use';
        return {
          attrs: html`data-build="${r.build_id}" data-state="${st}"`,
          cells: [
            r.redeemer_email,
            html`<code class="id">${r.build_id}</code><br><span class="muted">code <code>${r.serial}</code>${r.copy_of ? html`, a copy of <code class="id">${r.copy_of}</code>` : ''}</span>`,
            at(r.granted_at),
            at(r.completed_at),
            at(r.build_expires_at),
            badge(st, r.revoked_at ? 'revoked' : r.completed_at ? 'downloaded' : 'download open'),
            r.revoked_at ? '' : html`<a href="/console/builds/${r.build_id}/revoke">Revoke…</a>`,
          ],
        };
      }),
    })}`,
    'redemptions',
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

const money = (cents: number, currency: string): string => `${(cents / 100).toFixed(2)} ${currency}`;

export function paymentsPage(csrf: string, rows: PaymentListRow[]): Html {
  return consolePage(
    'Payments',
    csrf,
    dataTable({
      id: 'payments',
      caption: 'Payments received, newest first',
      head: ['When (UTC)', 'Purchaser', 'For', 'Amount', 'Card', 'Reference'],
      empty: 'no payment recorded yet.',
      rows: rows.map((p) => ({
        cells: [
          at(p.created_at),
          p.name,
          p.kind === 'card' ? 'a card' : `${p.quantity} ${p.kind}`,
          money(p.amount_cents, p.currency),
          p.card_id ? html`<code class="id">${p.card_id}</code>` : '',
          p.reference ?? '',
        ],
      })),
    }),
    'payments',
  );
}

/** The pay-back rules as sentences a seller can check against what they promised. */
export function paybackRulesText(r: PaybackRules): string[] {
  return [
    `A code sold online costs ${money(r.codePriceCents, r.currency)}.`,
    `When someone who redeemed a purchaser’s code later buys a card of their own, that purchaser earns ${money(r.inviteeCard.amountCents, r.currency)} and ${r.inviteeCard.points} points (once per new card).`,
    `A purchaser who buys at least ${r.volume.minCodes} codes at once earns ${money(r.volume.centsPerCode, r.currency)} and ${r.volume.pointsPerCode} ${r.volume.pointsPerCode === 1 ? 'point' : 'points'} per code.`,
  ];
}
const RULE_NAMES: Record<string, string> = { 'invitee-card': 'an invitee bought a card', volume: 'a volume purchase' };

export function paybackPage(
  csrf: string,
  rows: { purchaser_name: string; purchaser_email: string; rule: string; source: string; amount_cents: number; points: number; created_at: number }[],
  rules: PaybackRules,
): Html {
  return consolePage(
    'Pay-back',
    csrf,
    html`<article id="rules"><header><h2>Rules in force</h2></header><ul>${paybackRulesText(rules).map((t) => html`<li>${t}</li>`)}</ul>
<small class="muted">Change them in <code>payback.json</code> in the data folder, then restart the server.</small></article>
<p><a href="/console/payback.csv" download role="button" class="secondary outline">Download as CSV</a></p>
${dataTable({
  id: 'payback',
  caption: 'Credits owed to purchasers',
  head: ['When (UTC)', 'Purchaser', 'Why', 'Source', 'Amount', 'Points'],
  empty: 'no credit owed yet.',
  rows: rows.map((r) => ({
    cells: [
      at(r.created_at),
      html`${r.purchaser_name} <span class="muted">&lt;${r.purchaser_email}&gt;</span>`,
      RULE_NAMES[r.rule] ?? r.rule,
      html`<code class="id">${r.source}</code>`,
      money(r.amount_cents, rules.currency),
      r.points,
    ],
  })),
})}`,
    'payback',
  );
}

/** Right after issuing: the card file and the code sheet, offered this once. */
export function issuedPage(csrf: string, o: { sheet: CodeSheet; fileName: string; until: number }): Html {
  const { sheet } = o;
  return consolePage(
    'Card issued',
    csrf,
    html`${flash(
      'ok',
      html`<p>A card for <strong>${sheet.purchaser.name}</strong> &lt;${sheet.purchaser.email}&gt; was issued with ${sheet.codes.length} ${sheet.codes.length === 1 ? 'code' : 'codes'}: <code class="id">${sheet.cardId}</code>.</p>`,
      'notice',
    )}
<div class="no-print">
<ol>
<li>Download the card file and give it to the purchaser. <div class="actions"><a id="card-file" href="/console/issued/card" download="${o.fileName}" class="download">Download the card file</a> <small class="muted nowrap">${o.fileName}</small></div></li>
<li>Tell the purchaser the card passphrase separately, for example by phone.</li>
<li>Print the code sheet below with your browser’s Print command (Ctrl+P, or ⌘P on a Mac): only the sheet is printed, one seal per code, to cut out and hand over.</li>
</ol>
${flash('warn', html`<p><strong>This page is shown only now.</strong> The server keeps the codes only until you press Done, or at the latest until ${when(o.until)}; after that the code sheet cannot be shown again (the codes remain in the card file).</p>`)}
<form method="post" action="/console/issued/done" class="actions">${csrfField(csrf)}<button type="submit">Done: I have the card file and the sheet</button></form>
</div>
${codeSheet(sheet)}`,
    'cards',
  );
}

export function issuedGonePage(csrf: string): Html {
  return consolePage(
    'Nothing to show',
    csrf,
    html`${flash('warn', 'The one-time view of a newly issued card is closed: it was marked done or it expired. Its codes are in the card file you downloaded; the server no longer has them.')}
<p><a href="/console">Back to the cards</a></p>`,
    'cards',
  );
}

/** A console action that could not be done, inside the console's own frame. */
export function consoleErrorPage(csrf: string, title: string, message: string, back: { href: string; label: string }, section?: ConsoleSection): Html {
  return consolePage(title, csrf, html`${flash('error', message, 'error')}<p><a href="${back.href}">${back.label}</a></p>`, section);
}
