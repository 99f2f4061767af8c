import nodemailer from 'nodemailer';
import type { RenderedEmail } from './render';

/** Sends one rendered email; rejects with nodemailer's error (it carries `responseCode`). */
export interface Mailer {
  send(message: RenderedEmail & { to: string; messageId: string; headers?: Record<string, string> }): Promise<void>;
  close(): void;
}

/** SMTP through nodemailer, pooled; the From address comes from config. */
export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport(smtpUrl, { from });
  return {
    async send(message) {
      await transport.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        messageId: message.messageId,
        ...(message.headers ? { headers: message.headers } : {}),
      });
    },
    close() {
      transport.close();
    },
  };
}
