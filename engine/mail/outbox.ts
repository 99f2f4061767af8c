import { modelOn } from '../store';
import { createHash } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';

/**
 * One email a run has sent, keyed by workflow id + task id. Written once,
 * after the mail server accepted the message, and only ever read by `_id`:
 * inserts and `_id` reads are the operations every MongoDB-compatible store
 * indexes (FerretDB on SQLite scans the collection for anything else).
 */
export interface SentEmail {
  _id: string;
  messageId: string;
  to: string;
  subject: string;
  sentAt: Date;
}

const sentEmailSchema = new Schema<SentEmail>(
  {
    _id: { type: String, required: true },
    messageId: { type: String, required: true },
    to: { type: String, required: true },
    subject: { type: String, required: true },
    sentAt: { type: Date, required: true },
  },
  { collection: 'email_outbox', versionKey: false },
);

export function outboxModel(connection: Connection): Model<SentEmail> {
  return modelOn<SentEmail>(connection, 'SentEmail', sentEmailSchema);
}

/**
 * The Message-ID for an outbox key: the same on every attempt, so even a
 * resend after a crash between SMTP acceptance and the outbox insert can be
 * recognised as the same message by the receiving side.
 */
export function messageIdFor(outboxKey: string): string {
  return `<${createHash('sha256').update(outboxKey).digest('hex').slice(0, 40)}@creditflow>`;
}
