import { Schema, type Connection, type mongo } from 'mongoose';
import { insertSlot, readSlots } from '../slot-chain';
import { upsertRacing, modelOn } from '../store';
import { valueAtPath } from '../../workflows/references';
import { waitOutRoutingLease } from './routing-cache';
import type { CancelRequest, EventEnvelope } from '../../workflows/types';

/**
 * Which waiting runs an event cancels, answered with reads by `_id` only.
 * FerretDB on SQLite pushes no filter but `_id` down (anything else scans the
 * collection), and on MongoDB an `_id` read is the cheapest there is too.
 *
 * - a route `(cancel type, correlation path)` is recorded once per trigger
 *   setting, in a collection that stays tiny;
 * - the runs started with a correlation value are a slot chain
 *   (engine/slot-chain.ts) per `(type, path, value)` in
 *   `cancel_waiter_slots`: a run inserts the first free slot, a cancellation
 *   reads them all. Nothing is updated, so concurrent starts with one value
 *   cannot lose each other (an `$addToSet` on one document can, on FerretDB,
 *   which runs an update as a read and a whole-document write);
 * - a cancellation is held in a slot chain of the same key (`cancel_holds`),
 *   for CANCEL_HOLD_HOURS: a run started later with that value ends as
 *   cancelled before its tasks (a cancellation that overtook its purchase).
 *
 * A run writes its waiter slot, then reads the holds; a cancellation writes
 * its hold, then reads the waiter slots. Whichever comes second sees the
 * other, so no order of arrival lets a run escape its cancellation.
 */

/** Events of `type` cancel the runs waiting on the value at `path` (one per type and path; see ensureRoute). */
export interface CancelRoute {
  _id: string;
  type: string;
  path: string;
}

/** Written by releases before waiter chains: one document per key listing the runs. Read, never written. */
interface LegacyWaitersDoc {
  _id: string;
  workflowIds: string[];
}

/** One link of a chain: a waiting run (waiter slots), or a held cancellation (holds). */
interface SlotDoc {
  _id: string;
  /** Waiter slots: the run. */
  workflowId?: string;
  /** Holds: the cancelling event, and until when it holds. */
  eventId?: string;
  eventType?: string;
  until?: Date;
  at: Date;
}

const routeSchema = new Schema<CancelRoute>({ _id: String, type: { type: String, required: true }, path: { type: String, required: true } }, { collection: 'cancel_routes', versionKey: false });
const legacyWaitersSchema = new Schema<LegacyWaitersDoc>({ _id: String, workflowIds: { type: [String], default: [] } }, { collection: 'cancel_waiters', versionKey: false });

/** How long a cancellation that found no run is held for runs started after it, by default. */
export const DEFAULT_CANCEL_HOLD_MS = 24 * 3_600_000;

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

export interface CancelIndexOptions {
  /** How long a cancellation is held for runs started after it (default 24 hours). */
  holdMs?: number;
  clock?: () => Date;
}

export function createCancelIndex(connection: Connection, options: CancelIndexOptions = {}) {
  const routes = modelOn(connection, 'CancelRoute', routeSchema);
  const legacyWaiters = modelOn(connection, 'CancelWaiters', legacyWaitersSchema);
  const waiterSlots = connection.collection<SlotDoc>('cancel_waiter_slots') as unknown as mongo.Collection<SlotDoc>;
  const holds = connection.collection<SlotDoc>('cancel_holds') as unknown as mongo.Collection<SlotDoc>;
  const holdMs = options.holdMs ?? DEFAULT_CANCEL_HOLD_MS;
  const clock = options.clock ?? (() => new Date());
  // Routes are never deleted, so once this process has written one it need
  // not write it again (bounded: one entry per trigger cancellation setting).
  const ensuredRoutes = new Set<string>();

  /**
   * Makes events of `type` record their value at `path` (cancellations and
   * wait_for_event share the routes). The first time a process ensures a
   * route it waits out the routing lease after the write, whether the write
   * created the route or found it (it cannot tell whether the process that
   * created it is still waiting): an event that arrives after its caller
   * goes on is routed by a read sent after the route existed, in every
   * process (routing-cache.ts). `inForce: false` writes the route without
   * waiting, for a caller whose route was put in force earlier (a run's
   * wait, whose start did it); such a write is not remembered as in force.
   */
  async function ensureRoute(type: string, path: string, options: { inForce?: boolean } = {}): Promise<void> {
    const id = `${type}${SEPARATOR}${path}`;
    if (ensuredRoutes.has(id)) return;
    await upsertRacing(() => routes.updateOne({ _id: id }, { $setOnInsert: { type, path } }, { upsert: true }));
    if (options.inForce === false) return;
    await waitOutRoutingLease();
    if (ensuredRoutes.size < MAX_ENSURED_ROUTES) ensuredRoutes.add(id);
  }

  /** The keys a run with this cancelOn waits on, for its event (none when the event has no usable value). */
  function keysOf(cancelOn: { types: string[]; correlate: string }, event: EventEnvelope): string[] {
    const value = correlationKey(valueAtPath(event, cancelOn.correlate));
    return value === undefined ? [] : cancelOn.types.map((type) => [type, cancelOn.correlate, value].join(SEPARATOR));
  }

  return {
    /** Records that this run waits for these cancellation types at this value; no-op when the event has no usable value. */
    async addWaiter(cancelOn: { types: string[]; correlate: string }, event: EventEnvelope, workflowId: string): Promise<void> {
      const keys = keysOf(cancelOn, event);
      if (keys.length === 0) return;
      await Promise.all(cancelOn.types.map((type) => ensureRoute(type, cancelOn.correlate)));
      await Promise.all(keys.map((key) => insertSlot(waiterSlots, key, { workflowId, at: clock() }, (slot) => slot.workflowId === workflowId)));
    },

    /**
     * The oldest cancellation still held for a run with this cancelOn and
     * event, if any: read after the run's waiter slots are written.
     */
    async heldFor(cancelOn: { types: string[]; correlate: string }, event: EventEnvelope): Promise<CancelRequest | undefined> {
      const now = clock().getTime();
      for (const key of keysOf(cancelOn, event)) {
        // The run's own event never cancels it.
        const held = (await readSlots(holds, key)).find((link) => link.until !== undefined && link.until.getTime() > now && link.eventId !== event.id);
        if (held) return { eventId: held.eventId!, eventType: held.eventType! };
      }
      return undefined;
    },

    /**
     * Holds a cancellation at each of its keys, for runs that start after it
     * (written before the waiters are read). A retried dispatch holds nothing twice.
     */
    async hold(event: EventEnvelope, keys: readonly CorrelationKey[]): Promise<void> {
      if (holdMs === 0) return;
      const at = clock();
      const link = { eventId: event.id, eventType: event.type, until: new Date(at.getTime() + holdMs), at };
      await Promise.all(keys.map((key) => insertSlot(holds, [key.type, key.path, key.value].join(SEPARATOR), link, (slot) => slot.eventId === event.id)));
    },

    ensureRoute,

    /** The event's values at every path routed for its type: one small scan of the routes. */
    async keysFor(event: EventEnvelope): Promise<CorrelationKey[]> {
      return this.keysAt(event, await this.routesFor(event.type));
    },

    /** The routes of one event type (a read that ingestion sends beside the event's insert). */
    routesFor(type: string): Promise<CancelRoute[]> {
      return routes.find({ type }).lean<CancelRoute[]>();
    },

    /** The event's values at the given routes' paths. */
    keysAt(event: EventEnvelope, candidates: readonly CancelRoute[]): CorrelationKey[] {
      return candidates.flatMap((route) => {
        const value = correlationKey(valueAtPath(event, route.path));
        return value === undefined ? [] : [{ type: route.type, path: route.path, value }];
      });
    },

    /** Runs started with one of these correlation values by a trigger that these events' types cancel. */
    async waitersForKeys(keys: readonly CorrelationKey[]): Promise<string[]> {
      if (keys.length === 0) return [];
      // `_id` reads only (FerretDB scans the collection for `$in`): each key's chain, and the list a release before chains wrote.
      const found = await Promise.all(keys.map(async (key) => {
        const id = [key.type, key.path, key.value].join(SEPARATOR);
        const [slots, legacy] = await Promise.all([readSlots(waiterSlots, id), legacyWaiters.findById(id).lean<LegacyWaitersDoc>()]);
        return [...slots.map((slot) => slot.workflowId!), ...(legacy?.workflowIds ?? [])];
      }));
      return [...new Set(found.flat())];
    },

    /** Runs this event would cancel. */
    async waitersFor(event: EventEnvelope): Promise<string[]> {
      return this.waitersForKeys(await this.keysFor(event));
    },
  };
}

export type CancelIndex = ReturnType<typeof createCancelIndex>;
