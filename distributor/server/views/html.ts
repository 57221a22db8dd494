// Server-rendered HTML: a tagged template that escapes every interpolated value
// unless it is already rendered HTML. No client-side script anywhere.
export class Html {
  constructor(readonly s: string) {}
  toString(): string {
    return this.s;
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

type Value = Html | string | number | boolean | null | undefined | Value[];

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

const CSS = `body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin-top:1rem;font-weight:600}input,select{font:inherit;padding:.4rem;min-width:18rem}
button{font:inherit;margin-top:1rem;padding:.5rem 1rem}.error{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}
.ok{border-left:4px solid #1b5e20;padding:.5rem 1rem;background:#e8f5e9}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left;font-size:.9rem}nav a{margin-right:1rem}
form.inline{display:inline}form.inline button{margin:0;padding:.1rem .5rem}code{font-size:.95em}`;

export function layout(title: string, body: Html, nav?: Html): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · sealcode</title><style>${new Html(CSS)}</style></head>
<body>${nav ? html`<nav aria-label="Console">${nav}</nav>` : ''}<main id="main"><h1>${title}</h1>${body}</main></body></html>`;
}

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`;
export const when = (t: number | null | undefined): string => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '');
