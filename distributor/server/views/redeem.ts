// The non-purchaser's pages (patent Fig. 26): S3 code entry, S4 error, S5 download.
import { csrfField, flash, html, layout, when, type Html } from './html.js';

export function redeemPage(csrf: string, opts: { error?: string; email?: string } = {}): Html {
  return layout(
    'Get your sealcode add-on',
    html`<p>Someone gave you a sealcode code. Type it with your email address to download a Thunderbird add-on made for you alone:
it opens and seals attachments exchanged with that person.</p>
${opts.error ? flash('error', opts.error, 'error') : ''}
<form method="post" action="/redeem">
${csrfField(csrf)}
<label for="code">Code</label>
<input id="code" name="code" required autocomplete="off" spellcheck="false" autocapitalize="characters" aria-describedby="code-hint" maxlength="64">
<small id="code-hint">It looks like SC-XXXX-XXXX-…; dashes and case do not matter.</small>
<label for="email">Your email address</label>
<input id="email" name="email" type="email" required autocomplete="email" maxlength="254" value="${opts.email ?? ''}">
<button type="submit">Get the add-on</button>
</form>`,
    { narrow: true, hero: true },
  );
}

export function downloadPage(o: { token: string; fileName: string; expiresAt: number; buildId: string; copy: boolean }): Html {
  return layout(
    'Your add-on is ready',
    html`<div class="flash ok" role="status"><p>Your code was accepted${o.copy ? ' (a copy right)' : ''}. Download the add-on now:
the link works for this download only, and until ${when(o.expiresAt)}; an interrupted download can be resumed until then.</p></div>
<p><a id="download" class="download" href="/download/${o.token}" download="${o.fileName}">Download the add-on</a> <small class="muted nowrap">${o.fileName}</small></p>
<h2>Install it</h2>
<ol><li>In Thunderbird open <strong>Add-ons and Themes</strong>.</li>
<li>Click the gear icon, choose <strong>Install Add-on From File…</strong> and pick <code>${o.fileName}</code>.</li>
<li>Attachments sealed by the person who gave you the code now open in Thunderbird, and you can seal replies for them.</li></ol>
<p>Build id: <code>${o.buildId}</code></p>`,
    { narrow: true, hero: true },
  );
}

export function errorPage(title: string, message: string, back = true): Html {
  return layout(title, html`${flash('error', message, 'error')}${back ? html`<p><a href="/">Back to the code page</a></p>` : ''}`, { narrow: true });
}
