import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import nodemailer from 'nodemailer';
import { outboxModel, type SentEmail } from '../../engine/mail/outbox';

/** One message as MailDev's REST API returns it (the fields tests read). */
export interface CapturedMail {
  id: string;
  subject: string;
  text?: string;
  html?: string;
  to: Array<{ address: string; name: string }>;
  headers: Record<string, string>;
}

function apiUrl(): string {
  const url = process.env.MAILDEV_API_URL;
  if (!url) throw new Error('MAILDEV_API_URL is not set: integration tests run under the jest integration project');
  return url.replace(/\/+$/, '');
}

/** Every message the SMTP capture holds for this recipient. */
export async function mailsTo(address: string): Promise<CapturedMail[]> {
  const response = await fetch(`${apiUrl()}/email`);
  if (!response.ok) throw new Error(`MailDev answered ${response.status}`);
  const all = (await response.json()) as CapturedMail[];
  return all.filter((mail) => mail.to.some((to) => to.address.toLowerCase() === address.toLowerCase()));
}

/** Polls until `count` messages reached the recipient, or the deadline passes. */
export async function waitForMails(address: string, count: number, timeoutMs = 20_000): Promise<CapturedMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = await mailsTo(address);
    if (mails.length >= count || Date.now() > deadline) return mails;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Resolves once MailDev lists every message its SMTP server accepted before
 * this call. MailDev answers a transaction as soon as it has received the
 * message and lists it only once parsed, so a sender's success does not
 * mean the message is listed yet. A marker message sent now is received
 * after every earlier one (those were received in full before their
 * answer), and its own transaction adds several network round trips, so
 * once the marker is listed the earlier messages are too.
 */
export async function captureBarrier(timeoutMs = 20_000): Promise<void> {
  const smtpUrl = process.env.SMTP_URL;
  if (!smtpUrl) throw new Error('SMTP_URL is not set: integration tests run under the jest integration project');
  const marker = `barrier-${randomUUID()}@creditflow.test`;
  const transport = nodemailer.createTransport({ url: smtpUrl } as Parameters<typeof nodemailer.createTransport>[0]);
  try {
    await transport.sendMail({ from: 'barrier@creditflow.test', to: marker, subject: 'capture barrier', text: 'capture barrier' });
  } finally {
    transport.close();
  }
  if ((await waitForMails(marker, 1, timeoutMs)).length === 0) throw new Error(`MailDev did not list the capture barrier within ${timeoutMs} ms`);
}

/** What one recipient was sent: the outbox records and the captured messages. */
export interface SentMail {
  /** The email outbox's records for the address, one per outbox key sent. */
  recorded: SentEmail[];
  /** The messages MailDev captured for the address. */
  captured: CapturedMail[];
}

/**
 * What `address` was sent, for use once everything that could mail it has
 * provably finished (its runs closed, its email activities returned). The
 * outbox records are final by then: the email activity writes its record
 * before it completes. The captured messages are read after a capture
 * barrier, so they include every message the mail server accepted, however
 * recently. A second message then shows as a second record or a second
 * capture, without waiting to see whether one comes.
 */
export async function sentMailTo(connection: Connection, address: string): Promise<SentMail> {
  await captureBarrier();
  const recorded = await outboxModel(connection).find({ to: address }).lean<SentEmail[]>();
  return { recorded, captured: await mailsTo(address) };
}

/** The outbox key each captured message carries (the activity sets it as a header), in capture order. */
export function outboxKeysOf(mails: CapturedMail[]): Array<string | undefined> {
  return mails.map((mail) => mail.headers['x-creditflow-outbox-key']);
}
