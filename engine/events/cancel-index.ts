import { Schema, type Connection } from 'mongoose';
import { groupInsert } from '../group-insert';
import { driverCollection, isDuplicateKeyError, upsertRacing, modelOn } from '../store';
import { valueAtPath } from '../../workflows/references';
import type { EventEnvelope } from '../../workflows/types';

/**
 * Which waiting runs an event cancels, answered with reads by `_id` only.
 * FerretDB on SQLite pushes no filter but `_id` down (anything else scans the
 * collection), and on MongoDB an `_id` read is the cheapest there is too.
 *
 * - a route `(cancel type, correlation path)` is recorded once per trigger
 *   setting, in a collection that stays tiny;
 * - a waiters document per `(type, path, value)` lists the runs started with
 *   that correlation value.
 *
 * Both are written before the run starts, so a cancellation that arrives a
 * millisecond after the purchase was accepted finds its run. Temporal's
 * visibility store could lag behind by then.
 */
interface RouteDoc {
  _id: string;
  type: string;
  path: string;
}

interface WaitersDoc {
  _id: string;
  workflowIds: string[];
}

const routeSchema = new Schema<RouteDoc>({ _id: String, type: { type: String, required: true }, path: { type: String, required: true } }, { collection: 'cancel_routes', versionKey: false });
const waitersSchema = new Schema<WaitersDoc>({ _id: String, workflowIds: { type: [String], default: [] } }, { collection: 'cancel_waiters', versionKey: false });


/** A correlation value as stored: strings and finite numbers only; anything else cannot correlate. */
export function correlationKey(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0 && value.length <= 500) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const SEPARATOR = '\u001f';

/** An event's value at a routed path, for one route: what waiters are keyed by. */
export interface CorrelationKey {
  type: string;
  path: string;
  value: string;
}
const MAX_ENSURED_ROUTES = 10_000;

export function createCancelIndex(connection: Connection) {
  const routes = modelOn(connection, 'CancelRoute', routeSchema);
  const waiters = modelOn(connection, 'CancelWaiters', waitersSchema);
  // Routes are never deleted, so once this process has written one it need
  // not write it again (bounded: one entry per trigger cancellation setting).
  const ensuredRoutes = new Set<string>();

  /** Makes events of `type` record their value at `path` (cancellations and wait_for_event share the routes). */
  async function ensureRoute(type: string, path: string): Promise<void> {
    const id = `${type}${SEPARATOR}${path}`;
    if (ensuredRoutes.has(id)) return;
    await upsertRacing(() => routes.updateOne({ _id: id }, { $setOnInsert: { type, path } }, { upsert: true }));
    if (ensuredRoutes.size < MAX_ENSURED_ROUTES) ensuredRoutes.add(id);
  }

  /**
   * Usually the first run with this value: one insert. A second run with the
   * same value (another trigger, or a retried dispatch) appends to it.
   */
  async function addToWaiters(key: string, workflowId: string): Promise<void> {
    try {
      await groupInsert(driverCollection(waiters)).insert({ _id: key, workflowIds: [workflowId] });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      await waiters.updateOne({ _id: key }, { $addToSet: { workflowIds: workflowId } });
    }
  }

  return {
    /** Records that this run waits for these cancellation types at this value; no-op when the event has no usable value. */
    async addWaiter(cancelOn: { types: string[]; correlate: string }, event: EventEnvelope, workflowId: string): Promise<void> {
      const value = correlationKey(valueAtPath(event, cancelOn.correlate));
      if (value === undefined) return;
      await Promise.all(cancelOn.types.map(async (type) => {
        await ensureRoute(type, cancelOn.correlate);
        await addToWaiters([type, cancelOn.correlate, value].join(SEPARATOR), workflowId);
      }));
    },

    ensureRoute,

    /** The event's values at every path routed for its type: one small scan of the routes. */
    async keysFor(event: EventEnvelope): Promise<CorrelationKey[]> {
      const candidates = await routes.find({ type: event.type }).lean<RouteDoc[]>();
      return candidates.flatMap((route) => {
        const value = correlationKey(valueAtPath(event, route.path));
        return value === undefined ? [] : [{ type: route.type, path: route.path, value }];
      });
    },

    /** Runs started with one of these correlation values by a trigger that these events' types cancel. */
    async waitersForKeys(keys: readonly CorrelationKey[]): Promise<string[]> {
      if (keys.length === 0) return [];
      // One `_id` read per key: FerretDB scans the collection for `$in`.
      const found = await Promise.all(keys.map((key) => waiters.findById([key.type, key.path, key.value].join(SEPARATOR)).lean<WaitersDoc>()));
      return [...new Set(found.flatMap((doc) => doc?.workflowIds ?? []))];
    },

    /** Runs this event would cancel. */
    async waitersFor(event: EventEnvelope): Promise<string[]> {
      return this.waitersForKeys(await this.keysFor(event));
    },
  };
}

export type CancelIndex = ReturnType<typeof createCancelIndex>;
