import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { CATCHUP_WINDOW_MS, createScheduleSync, scheduleIdOf, SCHEDULE_ID_PREFIX, type ScheduleSync } from '../../../engine/schedules/schedule-sync';
import { scheduledFiring } from '../../../workflows/scheduled-firing';
import { startTestApi } from '../../support/api';
import { startEngineHarness, type EngineHarness } from '../../support/engine-harness';

let harness: EngineHarness;
let sync: ScheduleSync;

beforeAll(async () => {
  harness = await startEngineHarness('schedules');
  sync = createScheduleSync({ client: harness.worker.client, taskQueue: harness.worker.taskQueue, logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await harness?.close();
});

/** A trigger whose one task is cheap: a script returning nothing. */
function scheduledTrigger(schedule: unknown, extra: Record<string, unknown> = {}) {
  return { name: 'Scheduled', on: { schedule }, tasks: [{ id: 'noop', type: 'script', code: 'return { ok: true };' }], ...extra };
}

function handleOf(triggerId: string) {
  return harness.worker.client.schedule.getHandle(scheduleIdOf(triggerId));
}

async function until<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(200);
  }
}

async function settledFiring(triggerId: string, firingId: string) {
  return until(async () => {
    const response = await harness.api.request('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(firingId)}`);
    return response.status === 200 && ['completed', 'failed', 'not_run'].includes(response.body.status) ? response.body : undefined;
  }, 60_000);
}

describe('saving a scheduled trigger', () => {
  it.each([
    ['a cron expression Temporal would not read as written', { cron: '0 6 * * * *' }, 'on.schedule.cron'],
    ['a cron value out of range', { cron: '0 25 * * *' }, 'on.schedule.cron'],
    ['an unknown time zone', { cron: '0 6 * * *', timezone: 'Mars/Olympus_Mons' }, 'on.schedule.timezone'],
  ])('is refused with 422 for %s, naming the field', async (_label, schedule, path) => {
    const response = await harness.api.request('POST', '/v1/triggers', scheduledTrigger(schedule));
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('is refused with 422 when it gives both event types and a schedule', async () => {
    const response = await harness.api.request('POST', '/v1/triggers', { ...scheduledTrigger({ everySeconds: 60 }), on: { types: ['request.created'], schedule: { everySeconds: 60 } } });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { path: string }) => e.path)).toContain('on.schedule');
  });

  it('is refused with 422 when a sweep has no schedule', async () => {
    const response = await harness.api.request('POST', '/v1/triggers', { name: 'Sweep', on: { types: ['request.created'] }, forEachAccount: { unit: 'USD' }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });
    expect(response.status).toBe(422);
    expect(response.body.errors.map((e: { path: string }) => e.path)).toContain('forEachAccount');
  });
});

describe('a scheduled trigger\'s Temporal Schedule', () => {
  it('is created with the trigger, paused while it is disabled, updated with each version, and deleted with it', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ cron: '0 6 * * *', timezone: 'Europe/Nicosia' }));
    const created = await handleOf(id).describe();
    expect(created.spec.timezone).toBe('Europe/Nicosia');
    expect(created.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 6, end: 6, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] });
    expect(created.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(created.policies.catchupWindow).toBe(CATCHUP_WINDOW_MS);
    expect(created.state.paused).toBe(false);
    expect(created.action).toMatchObject({ workflowType: 'scheduledFiring', taskQueue: harness.worker.taskQueue, memo: { triggerVersion: 1 } });

    expect((await harness.api.request('POST', `/v1/triggers/${id}/disable`)).status).toBe(200);
    expect((await handleOf(id).describe()).state.paused).toBe(true);

    const put = await harness.api.request('PUT', `/v1/triggers/${id}`, scheduledTrigger({ everySeconds: 3600 }, { enabled: true }));
    expect(put.status).toBe(200);
    const updated = await handleOf(id).describe();
    expect(updated.state.paused).toBe(false);
    expect(updated.spec.intervals?.map((interval) => interval.every)).toEqual([3_600_000]);
    expect(updated.action.memo).toMatchObject({ triggerVersion: 3 });

    expect((await harness.api.request('DELETE', `/v1/triggers/${id}`)).status).toBe(204);
    await expect(handleOf(id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('is deleted when a new version drops on.schedule', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ everySeconds: 86_400 }));
    await handleOf(id).describe();
    const put = await harness.api.request('PUT', `/v1/triggers/${id}`, { name: 'Now by event', on: { types: ['request.created'] }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });
    expect(put.status).toBe(200);
    await expect(handleOf(id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('shows the next firing times on GET /v1/triggers/{id}, all in the future, and none while disabled', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ cron: '*/5 * * * *', timezone: 'UTC' }));
    const response = await harness.api.request('GET', `/v1/triggers/${id}`);
    expect(response.body.schedule).toMatchObject({ scheduleId: scheduleIdOf(id), state: 'active' });
    const times: string[] = response.body.schedule.nextFireTimes;
    expect(times.length).toBeGreaterThanOrEqual(3);
    for (const time of times) {
      expect(Date.parse(time)).toBeGreaterThan(Date.now());
      expect(new Date(time).getUTCMinutes() % 5).toBe(0);
    }
    await harness.api.request('POST', `/v1/triggers/${id}/disable`);
    expect((await harness.api.request('GET', `/v1/triggers/${id}`)).body.schedule).toEqual({ scheduleId: scheduleIdOf(id), state: 'paused', nextFireTimes: [] });
    const unscheduled = await harness.createTrigger({ name: 'By event', on: { types: ['request.created'] }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });
    expect((await harness.api.request('GET', `/v1/triggers/${unscheduled}`)).body.schedule).toBeUndefined();
  });
});

describe('reconciling schedules at worker start', () => {
  it('creates a missing schedule and deletes one whose trigger is gone', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ everySeconds: 86_400 }));
    await handleOf(id).delete(); // as if the API had crashed between saving the trigger and creating its schedule
    const orphanId = 'trg_00000000deadbeef';
    await harness.worker.client.schedule.create({
      scheduleId: scheduleIdOf(orphanId),
      memo: { creditflowTaskQueue: harness.worker.taskQueue, triggerId: orphanId },
      spec: { intervals: [{ every: '1 day' }] },
      action: { type: 'startWorkflow', workflowType: scheduledFiring, taskQueue: harness.worker.taskQueue, args: [{ triggerId: orphanId }] },
      state: { paused: true },
    });
    // Schedules are listed through Temporal's visibility store, which lags a little behind.
    await until(async () => {
      for await (const summary of harness.worker.client.schedule.list()) if (summary.scheduleId === scheduleIdOf(orphanId)) return true;
      return false;
    });

    const counts = await sync.reconcile(harness.api.api.triggers);
    expect(counts.created).toBe(1);
    expect(counts.deleted).toBe(1);
    expect((await handleOf(id).describe()).action.memo).toMatchObject({ triggerVersion: 1 });
    await expect(handleOf(orphanId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    expect(scheduleIdOf(orphanId).startsWith(SCHEDULE_ID_PREFIX)).toBe(true);
  });
});

describe('reconciling a trigger whose schedule Temporal refuses', () => {
  it('counts it as failed and still reconciles the others', async () => {
    const good = await harness.createTrigger(scheduledTrigger({ everySeconds: 86_400 }));
    await handleOf(good).delete();
    // Saved past validation (as by an older release): Temporal refuses its cron.
    const stored = await harness.api.api.triggers.get(good);
    const { id: _id, version: _version, createdAt: _created, updatedAt: _updated, ...definition } = stored;
    const bad = await harness.api.api.triggers.create({ ...definition, on: { ...definition.on, schedule: { cron: 'not a cron at all', timezone: 'UTC' } } }, 'test');

    const counts = await sync.reconcile(harness.api.api.triggers);
    expect(counts.failed).toBe(1);
    expect(counts.created).toBeGreaterThanOrEqual(1);
    expect((await handleOf(good).describe()).action.memo).toMatchObject({ triggerVersion: 1 });
    await expect(handleOf(bad.id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await harness.api.api.triggers.remove(bad.id);
  });
});

describe('saving a scheduled trigger while Temporal is unreachable', () => {
  it('keeps the trigger, shows its schedule as unavailable, answers fire with 503, and the next reconciliation creates the schedule', async () => {
    const deadTemporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const cutOff = await startTestApi({ store: harness.connection, temporal: deadTemporal, taskQueue: harness.worker.taskQueue });
    try {
      const created = await cutOff.request('POST', '/v1/triggers', scheduledTrigger({ everySeconds: 86_400 }));
      expect(created.status).toBe(201);
      const id: string = created.body.id;
      expect((await cutOff.request('GET', `/v1/triggers/${id}`)).body.schedule).toEqual({ scheduleId: scheduleIdOf(id), state: 'unavailable', nextFireTimes: [] });
      const fired = await cutOff.request('POST', `/v1/triggers/${id}/fire`, {});
      expect(fired.status).toBe(503);
      expect((await cutOff.request('GET', `/v1/triggers/${id}/firings`)).body.items).toEqual([expect.objectContaining({ status: 'failed' })]);

      expect((await harness.api.request('GET', `/v1/triggers/${id}`)).body.schedule.state).toBe('missing');
      await sync.reconcile(harness.api.api.triggers);
      expect((await harness.api.request('GET', `/v1/triggers/${id}`)).body.schedule.state).toBe('active');
    } finally {
      await cutOff.close();
      await deadTemporal.connection.close();
    }
  });
});

describe('firing a scheduled trigger', () => {
  it('POST /v1/triggers/{id}/fire starts exactly one run for a schedule.fired event named after the trigger and time', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ cron: '0 6 1 1 *' }));
    const fired = await harness.api.request('POST', `/v1/triggers/${id}/fire`, {});
    expect(fired.status).toBe(202);
    expect(fired.body).toMatchObject({ triggerId: id, status: 'pending', sweep: false });
    expect(fired.body.firingId).toBe(`${id}@${fired.body.scheduledAt}`);

    const firing = await settledFiring(id, fired.body.firingId);
    expect(firing).toMatchObject({ status: 'completed', triggerVersion: 1, matched: 1, started: 1, throttled: 0, skipped: 0 });
    const event = await harness.api.request('GET', `/v1/events/${encodeURIComponent(firing.firingId)}`);
    expect(event.body).toMatchObject({ type: 'schedule.fired', data: { scheduledAt: firing.scheduledAt }, runs: [{ triggerId: id, workflowId: `${id}:${firing.firingId}` }] });
    const run = await harness.settledRun(`${id}:${firing.firingId}`);
    expect(run.status).toBe('completed');
    const runs = await until(async () => {
      const response = await harness.api.request('GET', `/v1/runs?triggerId=${id}`);
      return response.body.items.length > 0 ? response.body.items : undefined;
    });
    expect(runs).toHaveLength(1);

    const list = await harness.api.request('GET', `/v1/triggers/${id}/firings`);
    expect(list.body.items.map((f: { firingId: string }) => f.firingId)).toEqual([firing.firingId]);
  });

  it('answers 409 for a trigger without a schedule or a disabled one, and 404 for an unknown one', async () => {
    const byEvent = await harness.createTrigger({ name: 'By event', on: { types: ['request.created'] }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });
    expect((await harness.api.request('POST', `/v1/triggers/${byEvent}/fire`, {})).body.code).toBe('trigger_not_scheduled');
    const disabled = await harness.createTrigger(scheduledTrigger({ everySeconds: 86_400 }, { enabled: false }));
    const response = await harness.api.request('POST', `/v1/triggers/${disabled}/fire`, {});
    expect(response.status).toBe(409);
    expect(response.body.code).toBe('trigger_disabled');
    expect((await harness.api.request('POST', '/v1/triggers/trg_0000000000000000/fire', {})).status).toBe(404);
  });

  it('an everySeconds schedule fires through Temporal within a few seconds', async () => {
    const id = await harness.createTrigger(scheduledTrigger({ everySeconds: 2 }));
    const firing = await until(async () => {
      const response = await harness.api.request('GET', `/v1/triggers/${id}/firings`);
      return response.body.items.find((f: { status: string }) => f.status === 'completed');
    }, 20_000);
    await harness.api.request('DELETE', `/v1/triggers/${id}`);
    expect(firing).toMatchObject({ triggerId: id, started: 1 });
    // Temporal fires on the interval's whole seconds.
    expect(firing.scheduledAt).toMatch(/:\d[02468]\.000Z$/);
    expect(firing.firingId).toBe(`${id}@${firing.scheduledAt}`);
  });
});
