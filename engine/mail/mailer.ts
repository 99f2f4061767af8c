import nodemailer from 'nodemailer';
import type { RenderedEmail } from './render';

/** Sends one rendered email; rejects with nodemailer's error (it carries `responseCode`). */
export interface Mailer {
  send(message: RenderedEmail & { to: string; messageId: string; headers?: Record<string, string> }): Promise<void>;
  close(): void;
}

/** Open SMTP connections a worker keeps; each carries messages one at a time. */
const SMTP_POOL_CONNECTIONS = 5;

/**
 * SMTP through nodemailer with pooled connections: a fresh connection per
 * message (TCP, EHLO, STARTTLS, AUTH) costs more than sending it.
 */
export function createSmtpMailer(smtpUrl: string, from: string): Mailer {
  const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: SMTP_POOL_CONNECTIONS, from } as Parameters<typeof nodemailer.createTransport>[0]);
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
