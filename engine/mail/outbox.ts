import { createHash } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';

/** One email a run decided to send, keyed by workflow id + task id. */
export interface OutboxRecord {
  _id: string;
  status: 'sending' | 'sent';
  messageId: string;
  to: string;
  subject: string;
  attempts: number;
  createdAt: Date;
  sentAt?: Date;
}

const outboxSchema = new Schema<OutboxRecord>(
  {
    _id: { type: String, required: true },
    status: { type: String, required: true, enum: ['sending', 'sent'] },
    messageId: { type: String, required: true },
    to: { type: String, required: true },
    subject: { type: String, required: true },
    attempts: { type: Number, required: true, default: 0 },
    createdAt: { type: Date, required: true },
    sentAt: { type: Date },
  },
  { collection: 'email_outbox', versionKey: false },
);

export function outboxModel(connection: Connection): Model<OutboxRecord> {
  return (connection.models.OutboxRecord as Model<OutboxRecord> | undefined) ?? connection.model<OutboxRecord>('OutboxRecord', outboxSchema);
}

/**
 * The Message-ID for an outbox key: the same on every attempt, so even a
 * resend after a crash between SMTP acceptance and the outbox update can be
 * recognised as the same message by the receiving side.
 */
export function messageIdFor(outboxKey: string): string {
  return `<${createHash('sha256').update(outboxKey).digest('hex').slice(0, 40)}@creditflow>`;
}
