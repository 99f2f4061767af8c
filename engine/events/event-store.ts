import { modelOn } from '../store';
import { Schema, type Connection, type Model } from 'mongoose';
import { olderThan, pageOf } from '../cursor';
import type { FilterError } from '../triggers/matcher';
import type { SkippedMatch, ThrottledMatch } from './ingest';

export interface RunRef {
  triggerId: string;
  triggerVersion: number;
  workflowId: string;
}

/** A received event, written once. Its id is the dedupe key; `bodyHash` tells a replay from a conflict. */
export interface EventDoc {
  _id: string;
  type: string;
  occurredAt: Date;
  /** JSON text: booking systems may send keys with dots or `$`, which FerretDB refuses as field names. */
  dataJson: string;
  bodyHash: string;
  receivedAt: Date;
  receivedBy: string;
  /**
   * Set on an internal event stored already dispatched: nothing listened to
   * its type and nothing routed it, so what its dispatch did (nothing) is
   * known before it is stored and rides in the same insert. Every other
   * event's dispatch is its own record (DispatchDoc).
   */
  dispatch?: Omit<DispatchDoc, '_id'>;
}

/**
 * What dispatching an event did, written once when it is done (keyed by the
 * event id). Until it exists the event counts as received, and a retried
 * POST finishes the dispatch. Records are inserted and read by `_id` only.
 */
export interface DispatchDoc {
  _id: string;
  runs: RunRef[];
  signalled: string[];
  /** Runs this event would have cancelled had they not closed already: recorded, nothing changed. */
  alreadyClosed: string[];
  /** Runs whose wait_for_event this event released (absent on events dispatched before waits existed). */
  released?: string[];
  /** Triggers of the event's type whose filter threw or was not evaluated (absent on events dispatched before this was recorded). */
  filterErrors?: FilterError[];
  /** Matches a throttle held back (absent when none). */
  throttled?: ThrottledMatch[];
  /** Matches a singleton held back (absent when none). */
  skipped?: SkippedMatch[];
  dispatchedAt: Date;
}

/** An event as the API shows it: the event and, once dispatched, what it did. */
export interface EventView extends Omit<EventDoc, 'dispatch'> {
  status: 'received' | 'dispatched';
  runs: RunRef[];
  signalled: string[];
  alreadyClosed: string[];
  released: string[];
  filterErrors: FilterError[];
  throttled: ThrottledMatch[];
  skipped: SkippedMatch[];
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
    dispatch: { type: Schema.Types.Mixed, default: undefined },
  },
  { collection: 'events', versionKey: false },
);

const dispatchSchema = new Schema<DispatchDoc>(
  {
    _id: String,
    runs: { type: Schema.Types.Mixed, default: [] },
    signalled: { type: [String], default: [] },
    alreadyClosed: { type: [String], default: [] },
    released: { type: [String], default: undefined },
    filterErrors: { type: Schema.Types.Mixed, default: undefined },
    throttled: { type: Schema.Types.Mixed, default: undefined },
    skipped: { type: Schema.Types.Mixed, default: undefined },
    dispatchedAt: { type: Date, required: true },
  },
  { collection: 'event_dispatches', versionKey: false, minimize: false },
);

export function eventModel(connection: Connection): Model<EventDoc> {
  return modelOn<EventDoc>(connection, 'Event', eventSchema);
}

export function dispatchModel(connection: Connection): Model<DispatchDoc> {
  return modelOn<DispatchDoc>(connection, 'EventDispatch', dispatchSchema);
}

export function viewOf({ dispatch: storedWith, ...event }: EventDoc, record: DispatchDoc | null): EventView {
  const dispatch = storedWith ?? record;
  return {
    ...event,
    status: dispatch ? 'dispatched' : 'received',
    runs: dispatch?.runs ?? [],
    signalled: dispatch?.signalled ?? [],
    alreadyClosed: dispatch?.alreadyClosed ?? [],
    released: dispatch?.released ?? [],
    filterErrors: dispatch?.filterErrors ?? [],
    throttled: dispatch?.throttled ?? [],
    skipped: dispatch?.skipped ?? [],
  };
}

/** Newest first by receipt; optional type filter. Each event's dispatch record, unless it was stored with the event, is read by `_id`. */
export async function listEvents(connection: Connection, options: { limit: number; cursor?: string; type?: string }) {
  const filter: Record<string, unknown> = { ...olderThan(options.cursor, 'receivedAt'), ...(options.type ? { type: options.type } : {}) };
  const docs = await eventModel(connection).find(filter).sort({ receivedAt: -1, _id: -1 }).limit(options.limit + 1).lean<EventDoc[]>();
  const page = pageOf(docs, options.limit, (doc) => ({ at: doc.receivedAt, id: doc._id }));
  const dispatches = dispatchModel(connection);
  const items = await Promise.all(page.items.map(async (doc) => viewOf(doc, doc.dispatch ? null : await dispatches.findById(doc._id).lean<DispatchDoc>())));
  return { items, nextCursor: page.nextCursor };
}
