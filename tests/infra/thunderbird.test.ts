/**
 * Smoke test of the Thunderbird harness: a minimal MV3 add-on, side-loaded into a fresh
 * profile pointed at a throwaway Dovecot, reports the INBOX subjects to a local HTTP server.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../support/dovecot.js';
import { startReportServer, type ReportServer } from '../support/report-server.js';
import { createProfile, launchThunderbird, zipAddon, type ThunderbirdProcess } from '../support/thunderbird.js';

const USER = { user: 'alice@example.test', pass: 'tb-Secret-1' };
const SUBJECT = `infra smoke ${Date.now()}`;
const ADDON_ID = 'infra-smoke@sealcode.test';

function backgroundJs(reportUrl: string): string {
  return `
const REPORT = ${JSON.stringify(reportUrl)};
async function post(path, obj) {
  try {
    await fetch(REPORT + path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(obj) });
  } catch (e) { console.log('infra-smoke: post failed', String(e)); }
}
// MV3 event page: persistent listeners so a relaunch also wakes it.
messenger.runtime.onStartup.addListener(() => {});
messenger.runtime.onInstalled.addListener(() => {});

async function listAll(folderId) {
  let page = await messenger.messages.list(folderId);
  const out = [...page.messages];
  while (page.id) { page = await messenger.messages.continueList(page.id); out.push(...page.messages); }
  return out;
}

async function main() {
  console.log('infra-smoke: background started');
  await post('/started', { type: 'started', version: (await messenger.runtime.getBrowserInfo()).version });
  const deadline = Date.now() + 90000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const accounts = await messenger.accounts.list(false);
      const imap = accounts.find((a) => a.type === 'imap');
      if (!imap) { last = 'no imap account: ' + JSON.stringify(accounts.map((a) => a.type)); }
      else {
        const inbox = (await messenger.folders.query({ accountId: imap.id, specialUse: ['inbox'] }))[0];
        if (!inbox) { last = 'no inbox yet'; }
        else {
          const msgs = await listAll(inbox.id);
          if (msgs.length > 0) {
            await post('/inbox', { type: 'inbox', folder: inbox.id, count: msgs.length, subjects: msgs.map((m) => m.subject) });
            return;
          }
          last = 'inbox empty';
        }
      }
    } catch (e) { last = 'error: ' + String(e); }
    await new Promise((r) => setTimeout(r, 500));
  }
  await post('/timeout', { type: 'timeout', last });
}
main();
`;
}

describe('infra: thunderbird', () => {
  let dc: Dovecot | undefined;
  let rs: ReportServer | undefined;
  let tb: ThunderbirdProcess | undefined;
  let tmp: string | undefined;

  afterAll(async () => {
    if (tb) {
      await tb.stop();
      const { code, signal } = await tb.exited;
      console.log(`thunderbird exit: code ${code} signal ${signal}`);
    }
    await rs?.stop();
    await dc?.dispose();
    if (tmp && process.env.SEALCODE_KEEP_TMP !== '1') await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('side-loaded MV3 add-on sees the message in INBOX', { timeout: 120_000 }, async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sealcode-tb-smoke-'));
    dc = await startDovecot({ users: [USER] });
    await dc.append(
      USER.user,
      `From: Bob <bob@example.test>\r\nTo: ${USER.user}\r\nSubject: ${SUBJECT}\r\n` +
        `Message-ID: <smoke-${Date.now()}@example.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\nhello\r\n`,
    );
    rs = await startReportServer();

    const src = path.join(tmp, 'addon');
    await fsp.mkdir(src);
    await fsp.writeFile(
      path.join(src, 'manifest.json'),
      JSON.stringify({
        manifest_version: 3,
        name: 'sealcode infra smoke',
        version: '1.0',
        browser_specific_settings: { gecko: { id: ADDON_ID, strict_min_version: '128.0' } },
        background: { scripts: ['background.js'] },
        permissions: ['accountsRead', 'accountsFolders', 'messagesRead'],
        host_permissions: ['http://127.0.0.1/*'],
      }),
    );
    await fsp.writeFile(path.join(src, 'background.js'), backgroundJs(rs.url));
    const xpi = await zipAddon(src, path.join(tmp, 'smoke.xpi'));

    const profile = await createProfile({
      dir: path.join(tmp, 'profile'),
      imap: { host: dc.host, port: dc.port, user: USER.user, pass: USER.pass },
      identity: { name: 'Alice', email: USER.user },
      addons: [xpi],
    });
    expect(profile.addonIds).toEqual([ADDON_ID]);

    tb = await launchThunderbird(profile.dir);
    const d = dc;
    const t = tb;
    const r = rs;
    try {
      const started = await r.waitFor((b) => b.type === 'started', 60_000);
      expect(started.version).toMatch(/^\d+/);
      // devtools.console.stdout.content: the add-on's console reaches stdout.
      await t.waitForLine(/infra-smoke: background started/, 10_000);
      const report = await r.waitFor<{ count: number; subjects: string[] }>(
        (b) => b.type === 'inbox' || b.type === 'timeout',
        90_000,
      );
      expect(report).toMatchObject({ type: 'inbox', count: 1 });
      expect(report.subjects).toContain(SUBJECT);
      // Thunderbird logged in with the stored password.
      expect(d.log()).toMatch(/imap-login: Info: Login: user=<alice@example\.test>/);
    } catch (e) {
      console.error(
        `--- thunderbird output (tail) ---\n${t.tail(120)}\n--- reports ---\n` +
          `${JSON.stringify(r.reports.map((x) => [x.path, x.body]))}\n--- dovecot.log (tail) ---\n${d.logTail(60)}`,
      );
      throw e;
    }
  });
});
