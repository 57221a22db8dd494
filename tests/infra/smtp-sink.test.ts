import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

describe('infra: smtp sink', () => {
  let sink: SmtpSink | undefined;
  afterAll(async () => {
    await sink?.stop();
  });

  it('receives a message with an attachment, with and without AUTH', async () => {
    sink = await startSmtpSink();
    const attachment = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

    const authed = nodemailer.createTransport({
      host: sink.host,
      port: sink.port,
      secure: false,
      ignoreTLS: true,
      auth: { user: 'alice@example.test', pass: 'anything' },
    });
    await authed.sendMail({
      from: 'alice@example.test',
      to: ['bob@example.test', 'carol@example.test'],
      subject: 'sink test',
      text: 'see attachment',
      attachments: [{ filename: 'data.bin', content: attachment, contentType: 'application/octet-stream' }],
    });
    authed.close();

    const anon = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, ignoreTLS: true });
    await anon.sendMail({ from: 'x@example.test', to: 'y@example.test', subject: 'second', text: 'hi' });
    anon.close();

    const [first, second] = await sink.waitFor(2, 10_000);
    expect(first!.envelope).toEqual({
      mailFrom: 'alice@example.test',
      rcptTo: ['bob@example.test', 'carol@example.test'],
    });
    expect(first!.authUser).toBe('alice@example.test');
    expect(second!.authUser).toBeUndefined();
    const parsed = await sink.parse(first!);
    expect(parsed.subject).toBe('sink test');
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe('data.bin');
    expect(Buffer.compare(parsed.attachments[0]!.content, attachment)).toBe(0);

    await expect(sink.waitFor(3, 200)).rejects.toThrow(/2 of 3/);

    sink.setReject({ code: 451, message: 'try later' });
    const t = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, ignoreTLS: true });
    await expect(t.sendMail({ from: 'x@example.test', to: 'y@example.test', subject: 'no', text: 'no' })).rejects.toMatchObject({
      responseCode: 451,
    });
    t.close();
    expect(sink.messages).toHaveLength(2);
  });
});
