// Server-rendered HTML: a tagged template that escapes every interpolated value
// unless it is already rendered HTML, one page layout, and the few components every
// page shares. No client-side script anywhere (the CSP forbids it).
export class Html {
  constructor(readonly s: string) {}
  toString(): string {
    return this.s;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

export type Value = Html | string | number | boolean | null | undefined | Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.s;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new Html(out);
}

export const LOGO_URL = '/assets/logo.svg';

export interface Chrome {
  /** Links and actions shown in the header after the brand (the console's menu). */
  nav?: Html;
  /** Where the brand links to, and the word beside it. */
  home?: { href: string; label: string };
  /** A narrow column for single-form pages. */
  narrow?: boolean;
  /** The seal large above the title instead of the header bar: the pages a visitor meets first. */
  hero?: boolean;
}

/** Every page: Pico CSS and our layer, the brand header, one h1, the body. */
export function layout(title: string, body: Html, chrome: Chrome = {}): Html {
  const home = chrome.home ?? { href: '/', label: '' };
  return html`<!doctype html>
<html lang="en" data-theme="light"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · sealcode</title>
<link rel="icon" href="/favicon.ico" sizes="any"><link rel="icon" href="${LOGO_URL}" type="image/svg+xml">
<link rel="stylesheet" href="/assets/pico.min.css"><link rel="stylesheet" href="/assets/sealcode.css"></head>
<body>${
    chrome.hero
      ? html`<header class="hero container${chrome.narrow ? ' narrow' : ''}"><a class="brand" href="${home.href}"><img src="${LOGO_URL}" alt="">sealcode</a></header>`
      : html`<header class="site container"><nav aria-label="${chrome.nav ? 'Console' : 'Site'}"><ul><li><a class="brand" href="${home.href}"><img src="${LOGO_URL}" alt="">sealcode${home.label ? html` <small>${home.label}</small>` : ''}</a></li></ul>
${chrome.nav ?? ''}</nav></header>`
  }
<main id="main" class="container${chrome.narrow ? ' narrow' : ''}"><h1>${title}</h1>${body}</main>
<footer class="site container">sealcode · sealed attachments between people who trust each other</footer></body></html>`;
}

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`;
export const when = (t: number | null | undefined): string => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '');

/** A message after an action or about a problem; errors are announced as alerts. */
export function flash(kind: 'ok' | 'error' | 'warn', message: Html | string, id?: string): Html {
  return html`<div class="flash ${kind}" ${kind === 'error' ? html`role="alert"` : html`role="status"`}${id ? html` id="${id}"` : ''}>${
    message instanceof Html ? message : html`<p>${message}</p>`
  }</div>`;
}

export interface Row {
  attrs?: Html;
  cells: Value[];
}

/** A table with a caption and column headers that turns into one card per row on narrow screens. */
export function dataTable(o: { id?: string; caption: string; head: string[]; rows: Row[]; empty: string }): Html {
  if (o.rows.length === 0) return html`<p class="muted"${o.id ? html` id="${o.id}"` : ''}><strong>${o.caption}:</strong> ${o.empty}</p>`;
  return html`<table class="stack striped"${o.id ? html` id="${o.id}"` : ''}><caption>${o.caption}</caption>
<thead><tr>${o.head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>
${o.rows.map((r) => html`<tr ${r.attrs ?? ''}>${r.cells.map((c, i) => html`<td data-label="${o.head[i]!}">${c}</td>`)}</tr>`)}</tbody></table>`;
}

export const badge = (state: string, label = state.replace('_', ' ')): Html => html`<span class="badge ${state}">${label}</span>`;
