// Mail from the distributor, through the SMTP relay the seller configured
// (serve --smtp URL): the confirmation of a redeemer's email address.
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import { SealError } from '../../card/index.js';

export const SmtpUrl = z
  .string()
  .trim()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'The SMTP relay must be given as smtp://HOST:PORT or smtps://USER:PASSWORD@HOST:PORT.');

export interface ConfirmationMail {
  to: string;
  link: string;
  inviter: { name: string; email: string };
}

export interface Mailer {
  sendConfirmation(m: ConfirmationMail): Promise<void>;
  close(): void;
}

export function createMailer(smtpUrl: string, from: string): Mailer {
  const url = SmtpUrl.safeParse(smtpUrl);
  if (!url.success) throw new SealError('USAGE', url.error.issues[0]!.message);
  const transport: Transporter = nodemailer.createTransport(url.data);
  return {
    async sendConfirmation(m) {
      await transport.sendMail({
        from,
        to: m.to,
        subject: 'Confirm your email address for sealcode',
        text: [
          `${m.inviter.name} <${m.inviter.email}> gave you a sealcode code, and it was redeemed with this address.`,
          '',
          'If that was you, confirm that this address is yours by opening this link and pressing the button:',
          m.link,
          '',
          'Your add-on works whether or not you confirm. If you did not redeem a code, ignore this mail.',
        ].join('\n'),
      });
    },
    close: () => transport.close(),
  };
}
