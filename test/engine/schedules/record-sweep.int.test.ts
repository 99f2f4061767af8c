// Sweeps over records (forEachRecord) on the real API, store and worker:
// one run per record that matches at firing time (its state, and its
// owner's customer profile), `record` in the run's context, the firing
// summary, nothing new for the same firing again, and paging past a batch.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SWEEP_BATCH_SIZE } from '../../../engine/schedules/fire';
import { createRecordStore } from '../../../engine/records/record-store';
import { scheduledFiring } from '../../../workflows/scheduled-firing';
import { startEngineHarness, type EngineHarness } from '../../support/engine-harness';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('record_sweeps');
});
afterAll(async () => {
  await harness?.close();
});

async function until<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(250);
  }
}

async function settledFiring(triggerId: string, firingId: string) {
  return until(async () => {
    const response = await harness.api.request('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(firingId)}`);
    return response.status === 200 && ['completed', 'failed', 'not_run'].includes(response.body.status) ? response.body : undefined;
  });
}

const runsOf = (triggerId: string) => harness.worker.client.workflow.count(`CreditflowTriggerId = '${triggerId}'`).then((result) => result.count);

describe('a sweep over records', () => {
  it('starts one run per record whose state and customer match, with the record in its context, and nothing new for the same firing again', async () => {
    const kind = `bill${randomUUID().slice(0, 6)}`;
    const owners = { card: `card-${randomUUID().slice(0, 6)}`, paypal: `pp-${randomUUID().slice(0, 6)}` };
    expect((await harness.api.request('PUT', `/v1/customers/${owners.card}`, { attributes: { paymentPreference: 'card', useForRecurringPayments: true } })).status).toBe(201);
    expect((await harness.api.request('PUT', `/v1/customers/${owners.paypal}`, { attributes: { paymentPreference: 'paypal', useForRecurringPayments: true } })).status).toBe(201);
    const bills: Array<[string, string, string]> = [['B-1', owners.card, 'unsettled'], ['B-2', owners.card, 'settled'], ['B-3', owners.paypal, 'unsettled'], ['B-4', owners.card, 'partially_settled']];
    for (const [id, ownerId, state] of bills) {
      expect((await harness.api.request('PUT', `/v1/records/${kind}/${id}`, { ownerId, state, amount: 2_500, unit: 'EUR', version: 1 })).status).toBe(201);
    }
    const id = await harness.createTrigger({
      name: 'Pay card bills',
      on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } },
      forEachRecord: { kind, filter: { state: { $in: ['unsettled', 'partially_settled'] }, 'customer.attributes.paymentPreference': 'card' } },
      // The run copies what it sees of the bill into a record of its own kind: `record` and `customer` are in its context.
      tasks: [{ id: 'seen', type: 'record', kind: `${kind}-seen`, recordId: '{{record.id}}', state: '{{record.state}}', ownerId: '{{customer.ownerId}}', amountFrom: 'record.amount', unit: 'EUR', versionFrom: 'record.version' }],
    });

    const fired = await harness.api.request('POST', `/v1/triggers/${id}/fire`, {});
    expect(fired.status).toBe(202);
    expect(fired.body).toMatchObject({ sweep: true });
    const firing = await settledFiring(id, fired.body.firingId);
    expect(firing).toMatchObject({ status: 'completed', sweep: true, matched: 2, started: 2, throttled: 0, skipped: 0 });

    const run = await harness.settledRun(`${id}:${firing.firingId}:${kind}:B-4`);
    expect(run.status).toBe('completed');
    expect(run.tasks[0].output).toMatchObject({ id: 'B-4', state: 'partially_settled', ownerId: owners.card, amount: 2_500 });
    const event = await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:${kind}:B-1`)}`);
    expect(event.body).toMatchObject({ type: 'schedule.fired', data: { record: { kind, id: 'B-1', state: 'unsettled', ownerId: owners.card } } });
    for (const skipped of ['B-2', 'B-3']) expect((await harness.api.request('GET', `/v1/events/${encodeURIComponent(`${firing.firingId}:${kind}:${skipped}`)}`)).status).toBe(404);

    // The same instant again, through the API and through another firing workflow: the firing as it stands, no new run.
    const again = await harness.api.request('POST', `/v1/triggers/${id}/fire`, { scheduledAt: firing.scheduledAt });
    expect(again.body).toMatchObject({ firingId: firing.firingId, status: 'completed', started: 2 });
    const other = await harness.worker.client.workflow.execute(scheduledFiring, { workflowId: `other-${firing.firingId}`, taskQueue: harness.worker.taskQueue, args: [{ triggerId: id, scheduledAt: firing.scheduledAt }] });
    expect(other).toMatchObject({ firingId: firing.firingId, started: 2 });
    expect(await runsOf(id)).toBe(2);

    // Once B-1 is settled (a newer version), the next firing leaves it out.
    await harness.api.request('PUT', `/v1/records/${kind}/B-1`, { ownerId: owners.card, state: 'settled', amount: 0, unit: 'EUR', version: 2 });
    const next = await settledFiring(id, (await harness.api.request('POST', `/v1/triggers/${id}/fire`, {})).body.firingId);
    expect(next).toMatchObject({ status: 'completed', matched: 1, started: 1 });
  });

  it('pages past a batch: every matching record of more than one batch is started once', async () => {
    const kind = `inv${randomUUID().slice(0, 6)}`;
    const records = createRecordStore(harness.connection);
    const count = SWEEP_BATCH_SIZE + 30;
    for (let i = 0; i < count; i += 1) await records.put(kind, `I-${String(i).padStart(4, '0')}`, { state: i % 3 === 0 ? 'open' : 'closed', version: 1 });
    const id = await harness.createTrigger({
      name: 'Open invoices', on: { schedule: { everySeconds: 31_536_000 } },
      forEachRecord: { kind, filter: { state: 'open' } },
      tasks: [{ id: 'noop', type: 'script', code: 'return {};', when: { 'record.state': 'never' } }],
    });
    const firing = await settledFiring(id, (await harness.api.request('POST', `/v1/triggers/${id}/fire`, {})).body.firingId);
    const expected = Math.ceil(count / 3);
    expect(firing).toMatchObject({ status: 'completed', matched: expected, started: expected });
    expect(await until(async () => ((await runsOf(id)) >= expected ? true : undefined))).toBe(true);
    expect(await runsOf(id)).toBe(expected);
  });
});

describe('saving a record sweep', () => {
  it('warns about a kind no record has (a typo matches nothing), and refuses one without a schedule or with forEachAccount too', async () => {
    const typo = await harness.api.request('POST', '/v1/triggers', {
      name: 'Typo', on: { schedule: { everySeconds: 86_400 } }, forEachRecord: { kind: 'bils' }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }],
    });
    expect(typo.status).toBe(201);
    expect(typo.body.warnings).toEqual([expect.objectContaining({ path: 'forEachRecord.kind', code: 'record_kind_unknown' })]);

    const unscheduled = await harness.api.request('POST', '/v1/triggers', { name: 'No schedule', on: { types: ['bill.updated'] }, forEachRecord: { kind: 'bill' }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }] });
    expect(unscheduled.status).toBe(422);
    expect(unscheduled.body.errors).toEqual([expect.objectContaining({ path: 'forEachRecord' })]);
    const both = await harness.api.request('POST', '/v1/triggers', {
      name: 'Both', on: { schedule: { everySeconds: 86_400 } }, forEachRecord: { kind: 'bill' }, forEachAccount: { unit: 'USD' }, tasks: [{ id: 'noop', type: 'script', code: 'return {};' }],
    });
    expect(both.status).toBe(422);
    expect(both.body.errors).toEqual([expect.objectContaining({ path: 'forEachRecord' })]);
  });
});
