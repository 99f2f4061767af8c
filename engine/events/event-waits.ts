/**
 * `wait_for_event`, end to end on the store side: which runs wait for which
 * correlated event, and which events have arrived for them. The workflow
 * side (a durable wait on the `eventArrived` signal) is in
 * workflows/trigger-run.ts; the task kind in tasks/wait-for-event.ts.
 *
 * Routing reuses the cancellation routes (cancel-index.ts): a route
 * `(event type, path)` exists from the moment a run with such a wait
 * starts, so every later event of that type records its value. Then, by
 * `_id` only (FerretDB indexes nothing else) and by inserts only (no
 * read-modify-write, which FerretDB 1.x does not make atomic):
 *
 * - an arrival slot `a|type|path|value|n` per event with that value,
 *   n = 0, 1, ... (the first free slot);
 * - a waiter slot `w|type|path|value|n` per waiting task.
 *
 * The API inserts the arrival, then reads the waiter slots and signals each
 * run. The worker inserts the waiter, then reads the arrival slots. Of the
 * two orders, one sees the other's insert: an event that came while the
 * task was being registered, or before the task started at all, still
 * releases it.
 */
import { Schema, type Connection } from 'mongoose';
import { insertSlot, readSlots } from '../slot-chain';
import { driverCollection, modelOn } from '../store';
import type { EventEnvelope } from '../../workflows/types';
import type { CancelIndex, CorrelationKey } from './cancel-index';

/** Slots a key may hold; far above any real use, it bounds a key that is hammered. */
const SEPARATOR = '\u001f';

interface ArrivalDoc {
  _id: string;
  eventId: string;
  eventJson: string;
  receivedAt: Date;
}

interface WaiterDoc {
  _id: string;
  workflowId: string;
  effectKey: string;
}

const arrivalSchema = new Schema<ArrivalDoc>({ _id: String, eventId: String, eventJson: String, receivedAt: Date }, { collection: 'event_wait_arrivals', versionKey: false });
const waiterSchema = new Schema<WaiterDoc>({ _id: String, workflowId: String, effectKey: String }, { collection: 'event_wait_waiters', versionKey: false });


/** A task that waits: for events of these types whose value at `path` is `value`, not older than `notBefore`. */
export interface WaitRegistration {
  types: readonly string[];
  path: string;
  value: string;
  /** Events received before this (the run's start) belong to someone else. */
  notBefore: Date;
  workflowId: string;
  effectKey: string;
}

/** A run to signal: the event arrived for its wait on `path` = `value`. */
export interface Release {
  workflowId: string;
  path: string;
  value: string;
}

export function createEventWaits(connection: Connection, cancelIndex: Pick<CancelIndex, 'ensureRoute'>) {
  const arrivals = driverCollection(modelOn(connection, 'EventWaitArrival', arrivalSchema));
  const waiters = driverCollection(modelOn(connection, 'EventWaitWaiter', waiterSchema));

  const keyOf = (type: string, path: string, value: string) => [type, path, value].join(SEPARATOR);

  return {
    /** Makes sure events of these types record their value at `path`; called when a run with such a wait starts. */
    async ensureRoutes(types: readonly string[], path: string): Promise<void> {
      await Promise.all(types.map((type) => cancelIndex.ensureRoute(type, path)));
    },

    /**
     * Registers a waiting task, then looks for an event that already
     * arrived. Returns that event, or undefined: the API will signal the run.
     */
    async register(wait: WaitRegistration): Promise<EventEnvelope | undefined> {
      // The run's start put these routes in force (ingest.ts, launch: written, then the routing lease
      // waited out), before any run with this wait existed; writing them again only repairs a lost one.
      await Promise.all(wait.types.map((type) => cancelIndex.ensureRoute(type, wait.path, { inForce: false })));
      for (const type of wait.types) {
        await insertSlot<WaiterDoc>(waiters, `w${SEPARATOR}${keyOf(type, wait.path, wait.value)}`, { workflowId: wait.workflowId, effectKey: wait.effectKey }, (existing) => existing.workflowId === wait.workflowId && existing.effectKey === wait.effectKey);
      }
      const candidates: ArrivalDoc[] = [];
      for (const type of wait.types) candidates.push(...(await readSlots<ArrivalDoc>(arrivals, `a${SEPARATOR}${keyOf(type, wait.path, wait.value)}`)));
      const first = candidates.filter((arrival) => arrival.receivedAt >= wait.notBefore).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())[0];
      return first ? (JSON.parse(first.eventJson) as EventEnvelope) : undefined;
    },

    /**
     * Records the event under each correlation key a route gives it, then
     * names the runs waiting on those keys. Safe to repeat for one event.
     */
    async deliver(event: EventEnvelope, keys: readonly CorrelationKey[], receivedAt: Date): Promise<Release[]> {
      const releases: Release[] = [];
      for (const key of keys) {
        const prefix = keyOf(key.type, key.path, key.value);
        await insertSlot<ArrivalDoc>(arrivals, `a${SEPARATOR}${prefix}`, { eventId: event.id, eventJson: JSON.stringify(event), receivedAt }, (existing) => existing.eventId === event.id);
        for (const waiter of await readSlots<WaiterDoc>(waiters, `w${SEPARATOR}${prefix}`)) releases.push({ workflowId: waiter.workflowId, path: key.path, value: key.value });
      }
      return releases;
    },
  };
}

export type EventWaits = ReturnType<typeof createEventWaits>;
