import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../support/dovecot.js';

const USER = { user: 'alice@example.test', pass: 'secret-Pw1' };

function client(dc: Dovecot): ImapFlow {
  return new ImapFlow({
    host: dc.host,
    port: dc.port,
    secure: false,
    auth: { user: USER.user, pass: USER.pass },
    logger: false,
  });
}

async function subjects(dc: Dovecot): Promise<string[]> {
  const c = client(dc);
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX');
    try {
      const out: string[] = [];
      for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

describe('infra: dovecot', () => {
  let dc: Dovecot | undefined;
  afterAll(async () => {
    await dc?.dispose();
  });

  it('appends, survives stop/start on the same port, and recovers from kill', async () => {
    dc = await startDovecot({ users: [USER] });
    const d = dc;
    try {
      const c = client(d);
      await c.connect();
      const list = await c.list();
      expect(list.map((m) => m.path)).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Trash']));
      const raw =
        'From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: infra hello\r\n' +
        'Message-ID: <infra-1@example.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n';
      await c.append('INBOX', raw);
      await c.logout();
      expect(await subjects(d)).toEqual(['infra hello']);

      const port = d.port;
      await d.stop();
      expect(d.running).toBe(false);
      await expect(subjects(d)).rejects.toThrow();
      await d.start();
      expect(d.port).toBe(port);
      expect(await subjects(d)).toEqual(['infra hello']);

      // doveadm delivery, then a crash and a restart.
      await d.append(USER.user, 'Subject: via doveadm\n\nhi\n');
      await d.kill();
      await d.start();
      expect(await subjects(d)).toEqual(['infra hello', 'via doveadm']);

      // pause: connections hang until resume.
      d.pause();
      const hung = new ImapFlow({
        host: d.host, port: d.port, secure: false, auth: USER, logger: false,
        greetingTimeout: 500, connectionTimeout: 1000,
      } as ConstructorParameters<typeof ImapFlow>[0]);
      await expect(hung.connect()).rejects.toThrow();
      d.resume();
      expect(await subjects(d)).toHaveLength(2);
    } catch (e) {
      console.error('--- dovecot.log tail ---\n' + d.logTail(80));
      throw e;
    }
  });
});
