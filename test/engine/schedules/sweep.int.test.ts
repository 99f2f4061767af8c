import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { createActivities } from '../../../activities';
import { createEventIngestor, type EventIngestor } from '../../../engine/events/ingest';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../../engine/mail/templates';
import { SWEEP_BATCH_SIZE } from '../../../engine/schedules/fire';
import { createTriggerStore } from '../../../engine/triggers/trigger-store';
import { scheduledFiring } from '../../../workflows/scheduled-firing';
import { startEngineHarness, type EngineHarness } from '../../support/engine-harness';
import { startTestWorker } from '../../support/temporal';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('sweeps');
});
afterAll(async () => {
  await harness?.close();
});

async function until<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(250);
  }
}

/** Opens `count` accounts of the unit, `balanceOf(i)` each, 32 postings in flight. */
async function openAccounts(prefix: string, unit: string, count: number, balanceOf: (i: number) => number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      await harness.ledger.post({ ownerId: `${prefix}${String(i).padStart(5, '0')}`, unit, direction: 'credit', amount: balanceOf(i), idempotencyKey: `${prefix}${unit}${i}`, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
    }
  }));
}

/** A sweep whose one task is skipped by its `when`, so each run is one cheap workflow. */
function sweepTrigger(unit: string) {
  return {
    name: `Low balance sweep (${unit})`,
    on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } },
    forEachAccount: { unit, filter: { balance: { $lte: 1000 } } },
    tasks: [{ id: 'remind', type: 'script', code: 'return {};', when: { 'account.balance': { $gt: 1_000_000 } } }],
  };
}

async function runsOf(triggerId: string): Promise<number> {
  return harness.worker.client.workflow.count(`CreditflowTriggerId = '${triggerId}'`).then((result) => result.count);
}

async function settledFiring(triggerId: string, firingId: string, timeoutMs = 240_000) {
  return until(async () => {
    const response = await harness.api.request('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(firingId)}`);
    return response.status === 200 && ['completed', 'failed', 'not_run'].includes(response.body.status) ? response.body : undefined;
  }, timeoutMs);
}

describe('a sweep over 2,000 accounts', () => {
  it('starts exactly one run per account that matches at firing time, none for the others, and nothing new when fired for the same time again', async () => {
    // Half the USD accounts are low (500), half are not (5,000); accounts of another unit never count.
    await openAccounts('owner-', 'USD', 2_000, (i) => (i % 2 === 0 ? 500 : 5_000));
    await openAccounts('other-', 'GBP', 50, () => 100);
    // Ten accounts brought low by their last postings, past the stored balance hint (which trails by up to 7 entries).
    for (let i = 0; i < 10; i += 1) {
      for (let n = 0; n < 9; n += 1) await harness.ledger.post({ ownerId: `trail-${i}`, unit: 'USD', direction: n === 0 ? 'credit' : 'debit', amount: n === 0 ? 5_000 : 500, idempotencyKey: `trail-${i}-${n}`, createIfMissing: true, source: { kind: 'api', keyId: 'test' } });
    }
    const id = await harness.createTrigger(sweepTrigger('USD'));

    const fired = await harness.api.request('POST', `/v1/triggers/${id}/fire`, {});
    expect(fired.status).toBe(202);
    expect(fired.body).toMatchObject({ sweep: true, status: 'pending' });
    const firing = await settledFiring(id, fired.body.firingId);
    expect(firing).toMatchObject({ status: 'completed', matched: 1_010, started: 1_010, throttled: 0, skipped: 0 });
    expect(await until(async () => ((await runsOf(id)) >= 1_010 ? true : undefined))).toBe(true);
    expect(await runsOf(id)).toBe(1_010);

    const low = await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:owner-00000:USD`)}`);
    expect(low.body).toMatchObject({ type: 'schedule.fired', data: { scheduledAt: firing.scheduledAt, account: { ownerId: 'owner-00000', unit: 'USD', balance: 500 } }, runs: [{ workflowId: `${id}:${firing.firingId}:owner-00000:USD` }] });
    const trailing = await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:trail-3:USD`)}`);
    expect(trailing.body.data.account.balance).toBe(1_000);
    expect((await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:owner-00001:USD`)}`)).status).toBe(404);
    expect((await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:other-00000:GBP`)}`)).status).toBe(404);

    // The same time through the API: the firing as it stands.
    const again = await harness.api.request('POST', `/v1/triggers/${id}/fire`, { scheduledAt: firing.scheduledAt });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ firingId: firing.firingId, status: 'completed', started: 1_010 });
    // The same time through another firing workflow (as the schedule and `fire` at one instant would): it finds the firing claimed.
    const other = await harness.worker.client.workflow.execute(scheduledFiring, { workflowId: `other-${firing.firingId}`, taskQueue: harness.worker.taskQueue, args: [{ triggerId: id, scheduledAt: firing.scheduledAt }] });
    expect(other).toMatchObject({ firingId: firing.firingId, started: 1_010 });
    expect(await runsOf(id)).toBe(1_010);
    const list = await harness.api.request('GET', `/v1/triggers/${id}/firings`);
    expect(list.body.items).toHaveLength(1);
  });
});

describe('a sweep filtering on the customer', () => {
  it('sees each account\'s customer profile, accounts without one do not match, and the runs have the customer in their context', async () => {
    await openAccounts('cust-', 'CAD', 4, () => 100);
    for (const [ownerId, plan] of [['cust-00000', 'pro'], ['cust-00001', 'basic'], ['cust-00002', 'pro']]) {
      expect((await harness.api.request('PUT', `/v1/customers/${ownerId}`, { attributes: { plan } })).status).toBeLessThan(300);
    }
    const id = await harness.createTrigger({
      ...sweepTrigger('CAD'),
      forEachAccount: { unit: 'CAD', filter: { 'customer.attributes.plan': 'pro' } },
      tasks: [{ id: 'pro-only', type: 'script', code: 'return {};', when: { 'customer.attributes.plan': 'pro', 'account.balance': 100 } }],
    });
    const fired = await harness.api.request('POST', `/v1/triggers/${id}/fire`, {});
    const firing = await settledFiring(id, fired.body.firingId);
    expect(firing).toMatchObject({ status: 'completed', matched: 2, started: 2 });
    expect((await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:cust-00002:CAD`)}`)).status).toBe(200);
    const run = await harness.settledRun(`${id}:${firing.firingId}:cust-00002:CAD`);
    expect(run.tasks).toEqual([expect.objectContaining({ id: 'pro-only', status: 'completed' })]);
    expect((await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:cust-00003:CAD`)}`)).status).toBe(404);
  });
});

describe('a sweep interrupted mid-batch', () => {
  it('resumes from its last checkpoint on retry and counts every matching account once', async () => {
    await openAccounts('eur-', 'EUR', 500, () => 700);
    const id = await harness.createTrigger(sweepTrigger('EUR'));
    // A worker whose ingestor fails once, part-way through the second batch; Temporal retries the activity.
    const triggers = createTriggerStore(harness.connection);
    const real = createEventIngestor({ connection: harness.connection, triggers, temporal: harness.worker.client, taskQueue: harness.worker.taskQueue, logger: pino({ level: 'silent' }) });
    let calls = 0;
    const flaky: Pick<EventIngestor, 'startFor'> = {
      startFor: async (...args) => {
        calls += 1;
        if (calls === SWEEP_BATCH_SIZE + 50) throw new Error('store went away');
        return real.startFor(...args);
      },
    };
    const sweeper = await startTestWorker(createActivities({
      connection: harness.connection, sandbox: { run: () => Promise.reject(new Error('unused')) }, ledger: harness.ledger,
      mailer: { send: () => Promise.reject(new Error('unused')), isFailing: () => false, close: () => undefined }, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR),
      firings: { triggers, ledger: harness.ledger, ingestor: flaky },
    }));
    try {
      const scheduledAt = new Date().toISOString();
      const summary = await sweeper.client.workflow.execute(scheduledFiring, { workflowId: `resume-${id}`, taskQueue: sweeper.taskQueue, args: [{ triggerId: id, scheduledAt }] });
      expect(summary).toMatchObject({ status: 'completed', matched: 500, started: 500 });
      // The retry resumed after the checkpointed first batch: at most the second batch twice, never all 500 again.
      expect(calls).toBeGreaterThanOrEqual(500 + 50);
      expect(calls).toBeLessThanOrEqual(500 + SWEEP_BATCH_SIZE);
      expect(await until(async () => ((await runsOf(id)) >= 500 ? true : undefined))).toBe(true);
      expect(await runsOf(id)).toBe(500);
    } finally {
      await sweeper.stop();
    }
  });
});
