// The non-purchaser's pages (patent Fig. 26): S3 code entry, S4 error, S5 download.
import { csrfField, html, layout, when, type Html } from './html.js';

export function redeemPage(csrf: string, opts: { error?: string; email?: string } = {}): Html {
  return layout(
    'Get your sealcode add-on',
    html`<p>Someone gave you a sealcode code. Type it with your email address to download a Thunderbird add-on made for you alone:
it opens and seals attachments exchanged with that person.</p>
${opts.error ? html`<div class="error" role="alert" id="error"><p>${opts.error}</p></div>` : ''}
<form method="post" action="/redeem">
${csrfField(csrf)}
<label for="code">Code</label>
<input id="code" name="code" required autocomplete="off" spellcheck="false" autocapitalize="characters" aria-describedby="code-hint" maxlength="64">
<p id="code-hint">It looks like SC-XXXX-XXXX-…; dashes and case do not matter. If your code goes on after a “+”, type only the part before it: the rest is for your add-on, which asks for the whole code once, and this site never needs it.</p>
<label for="email">Your email address</label>
<input id="email" name="email" type="email" required autocomplete="email" maxlength="254" value="${opts.email ?? ''}">
<button type="submit">Get the add-on</button>
</form>`,
  );
}

export function downloadPage(o: { token: string; fileName: string; expiresAt: number; buildId: string; copy: boolean }): Html {
  return layout(
    'Your add-on is ready',
    html`<div class="ok" role="status"><p>Your code was accepted${o.copy ? ' (a copy right)' : ''}. Download the add-on now:
the link works for this download only, and until ${when(o.expiresAt)}; an interrupted download can be resumed until then.</p></div>
<p><a id="download" href="/download/${o.token}" download="${o.fileName}">Download ${o.fileName}</a></p>
<h2>Install it</h2>
<ol><li>In Thunderbird open <strong>Add-ons and Themes</strong>.</li>
<li>Click the gear icon, choose <strong>Install Add-on From File…</strong> and pick <code>${o.fileName}</code>.</li>
<li>Attachments sealed by the person who gave you the code now open in Thunderbird, and you can seal replies for them.</li></ol>
<p>Build id: <code>${o.buildId}</code></p>`,
  );
}

export function errorPage(title: string, message: string, back = true): Html {
  return layout(title, html`<div class="error" role="alert" id="error"><p>${message}</p></div>${back ? html`<p><a href="/">Back to the code page</a></p>` : ''}`);
}
