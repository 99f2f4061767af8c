import { Schema, type Connection, type Model } from 'mongoose';

/**
 * Every run Creditflow starts, written before the workflow starts. It answers
 * "which waiting runs does this cancellation concern?" with a consistent read,
 * where Temporal's visibility store may lag by a few milliseconds or more.
 */
export interface RunDoc {
  _id: string;
  triggerId: string;
  triggerVersion: number;
  eventId: string;
  cancelTypes: string[];
  correlatePath?: string;
  /** The created event's value at correlatePath, as a string (top-level so it is indexed). */
  correlationValue?: string;
  cancellations: Array<{ eventId: string; at: Date; outcome: 'signalled' | 'run_closed' }>;
  createdAt: Date;
}

const runSchema = new Schema<RunDoc>(
  {
    _id: String,
    triggerId: { type: String, required: true, index: true },
    triggerVersion: { type: Number, required: true },
    eventId: { type: String, required: true, index: true },
    cancelTypes: { type: [String], default: [], index: true },
    correlatePath: { type: String },
    correlationValue: { type: String, index: true },
    cancellations: { type: Schema.Types.Mixed, default: [] },
    createdAt: { type: Date, required: true },
  },
  { collection: 'trigger_runs', versionKey: false, minimize: false },
);

export function runModel(connection: Connection): Model<RunDoc> {
  return (connection.models.TriggerRun as Model<RunDoc> | undefined) ?? connection.model<RunDoc>('TriggerRun', runSchema);
}

/** A correlation value as stored: strings and finite numbers only; anything else cannot correlate. */
export function correlationKey(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= 500) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
