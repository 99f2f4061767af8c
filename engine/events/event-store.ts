import { Schema, type Connection, type Model } from 'mongoose';
import { olderThan, pageOf } from '../cursor';

export interface RunRef {
  triggerId: string;
  triggerVersion: number;
  workflowId: string;
}

/** A received event. Its id is the dedupe key; `bodyHash` tells a replay from a conflict. */
export interface EventDoc {
  _id: string;
  type: string;
  occurredAt: Date;
  /** JSON text: booking systems may send keys with dots or `$`, which FerretDB refuses as field names. */
  dataJson: string;
  bodyHash: string;
  receivedAt: Date;
  receivedBy: string;
  /** `received` until its runs are started and cancellations signalled; a retry finishes the job. */
  status: 'received' | 'dispatched';
  runs: RunRef[];
  signalled: string[];
  /** Runs this event would have cancelled had they not closed already: recorded, nothing changed. */
  alreadyClosed?: string[];
}

const eventSchema = new Schema<EventDoc>(
  {
    _id: String,
    type: { type: String, required: true, index: true },
    occurredAt: { type: Date, required: true },
    dataJson: { type: String, required: true },
    bodyHash: { type: String, required: true },
    receivedAt: { type: Date, required: true, index: true },
    receivedBy: { type: String, required: true },
    status: { type: String, required: true, enum: ['received', 'dispatched'] },
    runs: { type: Schema.Types.Mixed, default: [] },
    signalled: { type: [String], default: [] },
    alreadyClosed: { type: [String], default: [] },
  },
  { collection: 'events', versionKey: false, minimize: false },
);

export function eventModel(connection: Connection): Model<EventDoc> {
  return (connection.models.Event as Model<EventDoc> | undefined) ?? connection.model<EventDoc>('Event', eventSchema);
}

/** Newest first by receipt; optional type filter. */
export async function listEvents(model: Model<EventDoc>, options: { limit: number; cursor?: string; type?: string }) {
  const filter: Record<string, unknown> = { ...olderThan(options.cursor, 'receivedAt'), ...(options.type ? { type: options.type } : {}) };
  const docs = await model.find(filter).sort({ receivedAt: -1, _id: -1 }).limit(options.limit + 1).lean<EventDoc[]>();
  return pageOf(docs, options.limit, (doc) => ({ at: doc.receivedAt, id: doc._id }));
}
