// The non-purchaser's pages (patent Fig. 26): S3 code entry, S4 error, S5 download.
import { csrfField, flash, html, layout, when, type Html } from './html.js';

export function redeemPage(csrf: string, opts: { error?: string; email?: string; code?: string } = {}): Html {
  return layout(
    'Get your sealcode add-on',
    html`<p>Someone gave you a sealcode code. Type it with your email address to download a Thunderbird add-on made for you alone:
it opens and seals attachments exchanged with that person.</p>
${opts.error ? flash('error', opts.error, 'error') : ''}
<form method="post" action="/redeem">
${csrfField(csrf)}
<label for="code">Code</label>
<input id="code" name="code" required autocomplete="off" spellcheck="false" autocapitalize="characters" aria-describedby="code-hint" maxlength="64" value="${opts.code ?? ''}">
<small id="code-hint">It looks like SC-XXXX-XXXX-…; dashes and case do not matter. If your code goes on after a “+”, type only the part before it: the rest is for your add-on, which asks for the whole code once, and this site never needs it.</small>
<label for="email">Your email address</label>
<input id="email" name="email" type="email" required autocomplete="email" maxlength="254" value="${opts.email ?? ''}">
<button type="submit">Get the add-on</button>
</form>`,
    { narrow: true, hero: true },
  );
}

/** A time in UTC for the page; /assets/local-time.js shows it in the visitor's own time. */
const timeEl = (t: number): Html => html`<time datetime="${new Date(t).toISOString()}" data-local>${when(t)}</time>`;

export interface DownloadView {
  token: string;
  fileName: string;
  expiresAt: number;
  buildId: string;
  copy: boolean;
  inviter: { name: string; email: string };
}

export function downloadPage(o: DownloadView): Html {
  const href = `/download/${o.token}`;
  return layout(
    'Your add-on is ready',
    html`<p id="inviter"><strong>${o.inviter.name} &lt;${o.inviter.email}&gt;</strong> invites you to exchange sealed attachments.</p>
<div class="flash ok" role="status"><p>Your code was accepted${o.copy ? ' (a copy right)' : ''}. Download the add-on now: the download works once,
until ${timeEl(o.expiresAt)}. If it is interrupted, or you reload this page, it can be started again until then.</p></div>
<form method="get" action="${href}"><button id="download" class="download" type="submit">Download the add-on</button> <small class="muted nowrap">${o.fileName}</small></form>
<p><small>If the button does nothing, use <a id="download-link" href="${href}" download="${o.fileName}">this link</a>.</small></p>
<h2>Install it</h2>
<ol><li>In Thunderbird open <strong>Add-ons and Themes</strong>.</li>
<li>Click the gear icon, choose <strong>Install Add-on From File…</strong> and pick <code>${o.fileName}</code>.</li>
<li>Attachments sealed by ${o.inviter.name} now open in Thunderbird, and you can seal replies for them.</li></ol>
<p>Build id: <code>${o.buildId}</code></p>
<script src="/assets/local-time.js" defer></script>`,
    { narrow: true, hero: true },
  );
}

export function confirmPage(csrf: string, action: string): Html {
  return layout(
    'Confirm your email address',
    html`<p>Press the button to confirm that this email address is yours. Your add-on works whether or not you do.</p>
<form method="post" action="${action}">${csrfField(csrf)}<button type="submit">Confirm my address</button></form>`,
  );
}

export function confirmedPage(email: string): Html {
  return layout('Address confirmed', html`<div class="flash ok" role="status"><p>Thank you: <strong>${email}</strong> is confirmed. There is nothing else to do.</p></div>`);
}

export function errorPage(title: string, message: string, back = true): Html {
  return layout(title, html`${flash('error', message, 'error')}${back ? html`<p><a href="/">Back to the code page</a></p>` : ''}`, { narrow: true });
}
