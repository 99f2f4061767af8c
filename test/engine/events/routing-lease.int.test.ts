import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import pino from 'pino';
import { createCancelIndex } from '../../../engine/events/cancel-index';
import { createEventIngestor, type EventIngestor } from '../../../engine/events/ingest';
import { connectStore } from '../../../engine/store';
import { createTriggerStore } from '../../../engine/triggers/trigger-store';
import { startEngineHarness, type EngineHarness } from '../../support/engine-harness';

jest.setTimeout(120_000);

// The API of the harness is one replica; `replica` is a second one on the
// same database, with its own routing cache, as a second API process would be.
let engine: EngineHarness;
let replicaStore: Connection;
let replica: EventIngestor;
/** The collections the replica sent `find` to, in order. */
let replicaFinds: string[] = [];

beforeAll(async () => {
  engine = await startEngineHarness('routing_lease');
  replicaStore = await connectStore(process.env.MONGODB_URI ?? '', { dbName: engine.connection.name, monitorCommands: true });
  replicaStore.getClient().on('commandStarted', (event) => {
    if (event.commandName === 'find') replicaFinds.push(String((event.command as { find: unknown }).find));
  });
  replica = createEventIngestor({ connection: replicaStore, triggers: createTriggerStore(replicaStore), temporal: engine.worker.client, taskQueue: engine.worker.taskQueue, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await replicaStore?.close();
  await engine?.close();
});

const eventOf = (type: string, data: Record<string, unknown> = {}) => ({ id: `evt_${randomUUID()}`, type, data });

describe('routing read once per lease', () => {
  it('reads what a type routes to once for a burst of its events', async () => {
    replicaFinds = [];
    const results = await Promise.all(Array.from({ length: 5 }, () => replica.ingest(eventOf('lease.burst'), 'test')));
    expect(results.map((result) => result.runs)).toEqual([[], [], [], [], []]);
    expect(replicaFinds.filter((collection) => collection === 'triggers')).toHaveLength(1);
    expect(replicaFinds.filter((collection) => collection === 'cancel_routes')).toHaveLength(1);
  });

  it('routes by a trigger saved on another replica as soon as the save has answered, and stops once a disable has', async () => {
    expect((await replica.ingest(eventOf('lease.ping'), 'test')).runs).toEqual([]);
    const triggerId = await engine.createTrigger({ name: 'Lease ping', on: { types: ['lease.ping'] }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });

    const started = await replica.ingest(eventOf('lease.ping'), 'test');
    expect(started.runs.map((run) => run.triggerId)).toEqual([triggerId]);

    expect((await engine.api.request('POST', `/v1/triggers/${triggerId}/disable`)).status).toBe(200);
    expect((await replica.ingest(eventOf('lease.ping'), 'test')).runs).toEqual([]);
  });

  it('holds a cancellation by a route another process recorded once that process has gone on', async () => {
    const reservationId = `res_${randomUUID()}`;
    // The replica reads (and keeps) the routes of the type while there are none.
    expect((await replica.ingest(eventOf('lease.cancelled', { reservation: { id: `res_${randomUUID()}` } }), 'test')).signalled).toEqual([]);

    // Another process records a route, as a run's start does for its trigger's cancelOn.
    await createCancelIndex(engine.connection).ensureRoute('lease.cancelled', 'data.reservation.id');

    const cancellation = eventOf('lease.cancelled', { reservation: { id: reservationId } });
    await replica.ingest(cancellation, 'test');
    // Held for a run that starts after it (a cancellation that overtook its purchase).
    const held = await engine.connection.collection('cancel_holds').findOne({ eventId: cancellation.id });
    expect(held).toMatchObject({ eventId: cancellation.id, eventType: 'lease.cancelled' });
  });
});
