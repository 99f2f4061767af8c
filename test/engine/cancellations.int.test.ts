// Cancellations against the real stack (API, Temporal worker, FerretDB,
// MailDev) in the orders a booking system can send them: one that overtakes
// its purchase is held and ends the purchase's run before its tasks; many
// triggers cancelling on one value, started at once, are all found (their
// waiter slots are inserts, never a shared document's update); a held
// cancellation lapses after its hold.
import { randomUUID } from 'node:crypto';
import { createCancelIndex } from '../../engine/events/cancel-index';
import { runStateQuery } from '../../workflows';
import type { EventEnvelope } from '../../workflows/types';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { untilTasksBegin } from '../support/temporal';
import { mailsTo } from '../support/mailbox';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('cancellations');
});

afterAll(async () => {
  await harness?.close();
});


describe('a cancellation that arrives before its purchase', () => {
  it('is held, and the purchase run ends as cancelled before its tasks: nothing credited, nothing mailed', async () => {
    const resource = `top-up-${randomUUID()}`;
    // No waiting window: without the hold the tasks would start at once.
    await harness.createTrigger(topUpTrigger(resource, 0));
    const created = purchaseEvent(resource, 5000);
    const { user, id: reservationId } = created.data.reservation;

    const early = await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    expect(early.status).toBe(202);
    expect(early.body.signalled).toEqual([]);
    const accepted = await harness.api.request('POST', '/v1/events', created);
    expect(accepted.status).toBe(202);
    const workflowId = accepted.body.runs[0].workflowId as string;
    await harness.worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);

    const run = await harness.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    expect(run.body.status).toBe('cancelled');
    expect(run.body.cancelledBy).toMatchObject({ eventId: early.body.eventId, eventType: 'request.cancelled' });
    expect(run.body.tasks.every((task: { status: string }) => task.status === 'skipped')).toBe(true);
    expect(await harness.ledger.getAccount(user.id, 'USD')).toBeNull();
    expect(await mailsTo(user.email)).toHaveLength(0);
  });

  it('does not touch a purchase with another correlation value', async () => {
    const resource = `top-up-${randomUUID()}`;
    await harness.createTrigger(topUpTrigger(resource, 0));
    const created = purchaseEvent(resource, 5000);
    const { user } = created.data.reservation;
    await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', `other-${randomUUID()}`));
    const accepted = await harness.api.request('POST', '/v1/events', created);
    const result = await harness.worker.client.workflow.getHandle(accepted.body.runs[0].workflowId as string).result();
    expect(result.phase).toBe('completed');
    expect((await harness.ledger.getAccount(user.id, 'USD'))?.balance).toBe(6000);
  });
});

describe('several triggers cancelling on one value', () => {
  it('are all cancelled by one event when their runs started at once', async () => {
    const resource = `top-up-${randomUUID()}`;
    for (let index = 0; index < 6; index += 1) await harness.createTrigger({ ...topUpTrigger(resource, 60), name: `Top-up ${index}` });
    const created = purchaseEvent(resource, 5000);
    const { user, id: reservationId } = created.data.reservation;
    const accepted = await harness.api.request('POST', '/v1/events', created);
    const started = (accepted.body.runs as Array<{ workflowId: string }>).map((run) => run.workflowId).sort();
    expect(started).toHaveLength(6);

    const cancelled = await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    expect([...cancelled.body.signalled].sort()).toEqual(started);
    const results = await Promise.all(started.map((workflowId) => harness.worker.client.workflow.getHandle(workflowId).result().catch(() => undefined)));
    expect(results).toHaveLength(6);
    for (const workflowId of started) expect((await harness.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`)).body.status).toBe('cancelled');
    expect(await harness.ledger.getAccount(user.id, 'USD')).toBeNull();
  });
});

describe('the cancel index on the store', () => {
  const cancelOn = { types: ['request.cancelled'], correlate: 'data.reservation.id' };
  const event = (id: string, type: string, reservationId: string): EventEnvelope => ({ id, type, occurredAt: new Date().toISOString(), data: { reservation: { id: reservationId } } });

  it('loses no waiter when 40 runs with one value register at once, and registers a retried one once', async () => {
    const index = createCancelIndex(harness.connection);
    const reservationId = `r-${randomUUID()}`;
    const purchase = event(`e-${randomUUID()}`, 'request.created', reservationId);
    const workflowIds = Array.from({ length: 40 }, (_, n) => `wf-${n}-${randomUUID()}`);
    await Promise.all(workflowIds.map((workflowId) => index.addWaiter(cancelOn, purchase, workflowId)));
    await index.addWaiter(cancelOn, purchase, workflowIds[7]!);

    const found = await index.waitersFor(event(`c-${randomUUID()}`, 'request.cancelled', reservationId));
    expect(found.sort()).toEqual([...workflowIds].sort());
  });

  it('holds a cancellation for its hold time, not after, and never for the run of its own event', async () => {
    let now = new Date('2026-12-01T10:00:00Z');
    const index = createCancelIndex(harness.connection, { holdMs: 3_600_000, clock: () => now });
    const reservationId = `r-${randomUUID()}`;
    const cancellation = event(`c-${randomUUID()}`, 'request.cancelled', reservationId);
    await index.ensureRoute('request.cancelled', 'data.reservation.id');
    const keys = await index.keysFor(cancellation);
    await index.hold(cancellation, keys);
    await index.hold(cancellation, keys);

    const purchase = event(`e-${randomUUID()}`, 'request.created', reservationId);
    now = new Date('2026-12-01T10:59:00Z');
    expect(await index.heldFor(cancelOn, purchase)).toEqual({ eventId: cancellation.id, eventType: 'request.cancelled' });
    expect(await index.heldFor(cancelOn, cancellation)).toBeUndefined();
    now = new Date('2026-12-01T11:00:01Z');
    expect(await index.heldFor(cancelOn, purchase)).toBeUndefined();
  });
});

describe('a cancellation that comes after the tasks began', () => {
  /** The documented top-up, with a compensating debit of what its credit posted when a cancellation comes too late. */
  function withTakeBack(resource: string, withinSeconds: number, script?: string) {
    const trigger = topUpTrigger(resource, 0, script) as ReturnType<typeof topUpTrigger> & { onLateCancel?: unknown };
    if (script) trigger.tasks[0] = { ...trigger.tasks[0], timeoutMs: 5000 };
    trigger.onLateCancel = {
      withinSeconds,
      tasks: [{ id: 'take-back', type: 'account', action: 'debit', when: { 'results.credit.status': 'completed' }, amountFrom: 'tasks.credit.amount', unit: 'USD', comment: 'Top-up cancelled after it was credited' }],
    };
    return trigger;
  }

  it('runs onLateCancel once when it arrives while the tasks run: the credit is taken back by a debit', async () => {
    const resource = `top-up-${randomUUID()}`;
    await harness.createTrigger(withTakeBack(resource, 0, 'const end = Date.now() + 3000; while (Date.now() < end) {}\nreturn { amount_cents: 6000, vars: { DOLLARS: "$60" } };'));
    const created = purchaseEvent(resource, 5000);
    const { user, id: reservationId } = created.data.reservation;
    const accepted = await harness.api.request('POST', '/v1/events', created);
    const workflowId = accepted.body.runs[0].workflowId as string;
    const handle = harness.worker.client.workflow.getHandle(workflowId);
    await untilTasksBegin(harness.worker.client, workflowId);

    const late = await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    expect(late.body.signalled).toEqual([workflowId]);
    // A second cancellation of the same reservation is recorded, and takes nothing back again.
    await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    const result = await handle.result();

    expect(result.phase).toBe('completed');
    expect(result.lateCancelTasks).toEqual([expect.objectContaining({ id: 'take-back', status: 'completed', output: expect.objectContaining({ direction: 'debit', amount: 6000 }) })]);
    const entries = (await harness.api.request('GET', `/v1/accounts/${user.id}/entries?unit=USD`)).body.items as Array<{ direction: string; amount: number }>;
    expect(entries.map((entry) => `${entry.direction} ${entry.amount}`).sort()).toEqual(['credit 6000', 'debit 6000']);
    expect(await harness.ledger.getAccount(user.id, 'USD')).toMatchObject({ balance: 0 });
    const run = await harness.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    expect(run.body.lateCancelTasks).toEqual([expect.objectContaining({ id: 'take-back', status: 'completed' })]);
  });

  it('runs onLateCancel when it arrives after the tasks ended, within withinSeconds', async () => {
    const resource = `top-up-${randomUUID()}`;
    await harness.createTrigger(withTakeBack(resource, 60));
    const created = purchaseEvent(resource, 5000);
    const { user, id: reservationId } = created.data.reservation;
    const accepted = await harness.api.request('POST', '/v1/events', created);
    const workflowId = accepted.body.runs[0].workflowId as string;
    const handle = harness.worker.client.workflow.getHandle(workflowId);
    // The tasks have ended (the credit and the email), and the run listens on.
    for (;;) {
      const state = await handle.query(runStateQuery);
      if (state.tasks.every((task) => task.status === 'completed')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await harness.ledger.getAccount(user.id, 'USD'))?.balance).toBe(6000);

    const late = await harness.api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    expect(late.body.signalled).toEqual([workflowId]);
    const result = await handle.result();
    expect(result.lateCancellations).toEqual([expect.objectContaining({ eventId: late.body.eventId })]);
    expect(result.lateCancelTasks).toEqual([expect.objectContaining({ id: 'take-back', status: 'completed' })]);
    expect((await harness.ledger.getAccount(user.id, 'USD'))?.balance).toBe(0);
  });

  it('refuses onLateCancel without cancelOn, and late task ids that repeat a task id, naming the fields', async () => {
    const resource = `top-up-${randomUUID()}`;
    const { cancelOn: _cancelOn, ...withoutCancelOn } = withTakeBack(resource, 0);
    const refused = await harness.api.request('POST', '/v1/triggers', withoutCancelOn);
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'onLateCancel' })]));

    const clash = withTakeBack(resource, 0) as ReturnType<typeof withTakeBack> & { onLateCancel: { tasks: Array<{ id: string }> } };
    clash.onLateCancel.tasks[0]!.id = 'credit';
    const clashing = await harness.api.request('POST', '/v1/triggers', clash);
    expect(clashing.status).toBe(422);
    expect(clashing.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'onLateCancel.tasks.0.id' })]));
  });
});
