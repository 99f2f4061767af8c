import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { mailsTo, outboxKeysOf, sentMailTo, waitForMails } from '../support/mailbox';
import { openTestStore } from '../support/store';
import { startTestWorker, untilTasksBegin, type TestWorker } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';
import { TOP_UP_SCRIPT } from '../../engine/triggers/documented-top-up';

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');
let ledger: ReturnType<typeof createLedger>;

beforeAll(async () => {
  store = await openTestStore('trigger_engine');
  ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
  worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }));
  api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue });
});

afterAll(async () => {
  await api?.close();
  await worker?.stop();
  sandbox.dispose();
  mailer.close();
  await store?.close();
});

async function createTrigger(body: unknown): Promise<string> {
  const response = await api.request('POST', '/v1/triggers', body);
  expect(response.status).toBe(201);
  return response.body.id;
}

async function finish(workflowId: string): Promise<void> {
  await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
}

async function balanceOf(ownerId: string): Promise<number | null> {
  return (await ledger.getAccount(ownerId, 'USD'))?.balance ?? null;
}

/** A purchase of a top-up whose script takes 3 s, so a cancellation can arrive while the tasks run. */
async function slowPurchase(waitSeconds: number) {
  const resource = `top-up-${randomUUID()}`;
  const slowScript = `const end = Date.now() + 3000; while (Date.now() < end) {}\n${TOP_UP_SCRIPT}`;
  const trigger = topUpTrigger(resource, waitSeconds, slowScript);
  trigger.tasks[0] = { ...trigger.tasks[0], timeoutMs: 5000 };
  await createTrigger(trigger);
  const created = purchaseEvent(resource, 5000);
  const { user, id: reservationId } = created.data.reservation;
  const accepted = await api.request('POST', '/v1/events', created);
  return { resource, user, reservationId, workflowId: accepted.body.runs[0].workflowId as string };
}

/** Cancels the purchase now and expects the run to record it as late and keep its credit. */
async function expectLateCancellation(resource: string, user: ReturnType<typeof purchaseEvent>['data']['reservation']['user'], reservationId: string, workflowId: string): Promise<void> {
  const late = await api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
  expect(late.body.signalled).toEqual([workflowId]);
  const result = await worker.client.workflow.getHandle(workflowId).result();
  expect(result.phase).toBe('completed');
  expect(result.lateCancellations).toEqual([expect.objectContaining({ eventId: late.body.eventId, phase: 'running' })]);
  expect(await balanceOf(user.id)).toBe(6000);
}

/** Resolves once the run's waiting window has ended (its timer fired). */
async function untilWindowEnds(workflowId: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { events } = await worker.client.workflow.getHandle(workflowId).fetchHistory();
    if ((events ?? []).some((event) => event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_TIMER_FIRED)) return;
    if (Date.now() > deadline) throw new Error(`run ${workflowId}: its window did not end within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the documented account top-up', () => {
  it('credits 6000 cents for a $50 package and 15000 for $100, and says so by email', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 0));
    const fifty = purchaseEvent(resource, 5000);
    const user = fifty.data.reservation.user;

    const accepted = await api.request('POST', '/v1/events', fifty);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ eventId: fifty.id, duplicate: false, signalled: [] });
    expect(accepted.body.runs).toHaveLength(1);
    await finish(accepted.body.runs[0].workflowId);
    expect(await balanceOf(user.id)).toBe(6000);

    const hundred = purchaseEvent(resource, 10000, user);
    const second = await api.request('POST', '/v1/events', hundred);
    await finish(second.body.runs[0].workflowId);
    expect(await balanceOf(user.id)).toBe(21000);

    const mails = await waitForMails(user.email, 2);
    expect(mails.map((mail) => mail.subject).sort()).toEqual(['Your account was credited with $150', 'Your account was credited with $60']);
    expect(mails.find((mail) => mail.subject.endsWith('$60'))!.html).toContain('<strong>$60</strong>');

    const run = await api.request('GET', `/v1/runs/${encodeURIComponent(accepted.body.runs[0].workflowId)}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'completed', eventId: fifty.id, triggerVersion: 1 });
    expect(run.body.tasks.map((task: { status: string }) => task.status)).toEqual(['completed', 'completed', 'completed']);
    expect(run.body.tasks[0].output).toEqual({ amount_cents: 6000, vars: { DOLLARS: '$60' } });
    expect(run.body.temporalUiUrl).toContain(encodeURIComponent(accepted.body.runs[0].workflowId));
  });

  it('credits once for an event sent twice, and refuses the same id with another body', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 0));
    const event = purchaseEvent(resource, 5000);

    const [first, second] = await Promise.all([api.request('POST', '/v1/events', event), api.request('POST', '/v1/events', event)]);
    const replay = await api.request('POST', '/v1/events', event);
    expect([first.status, second.status].sort()).toEqual([200, 202]);
    expect(replay.status).toBe(200);
    expect(replay.body.duplicate).toBe(true);
    expect(replay.body.runs).toEqual(first.body.runs);
    // Every run any answer named has closed, so nothing more can credit or mail.
    const named = [first, second, replay].flatMap((response) => (response.body.runs ?? []).map((run: { workflowId: string }) => run.workflowId));
    await Promise.all([...new Set(named)].map(finish));

    const conflict = await api.request('POST', '/v1/events', { ...event, data: { ...event.data, extra: true } });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toContain('application/problem+json');
    expect(await balanceOf(event.data.reservation.user.id)).toBe(6000);
    const { recorded, captured } = await sentMailTo(store.connection, event.data.reservation.user.email);
    expect(recorded).toHaveLength(1);
    expect(outboxKeysOf(captured)).toEqual(recorded.map((record) => record._id));
  });

  it('credits nothing and sends nothing when the purchase is cancelled milliseconds after it was accepted', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 30));
    const created = purchaseEvent(resource, 5000);
    const { user, id: reservationId } = created.data.reservation;

    const accepted = await api.request('POST', '/v1/events', created);
    const cancelled = await api.request('POST', '/v1/events', purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId));
    const workflowId = accepted.body.runs[0].workflowId;
    expect(cancelled.status).toBe(202);
    expect(cancelled.body.signalled).toEqual([workflowId]);
    await finish(workflowId);

    const run = await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    expect(run.body.status).toBe('cancelled');
    expect(run.body.tasks.every((task: { status: string }) => task.status === 'skipped')).toBe(true);
    expect(await balanceOf(user.id)).toBeNull();
    expect(await mailsTo(user.email)).toHaveLength(0);
    const event = await api.request('GET', `/v1/events/${cancelled.body.eventId}`);
    expect(event.body.signalled).toEqual([workflowId]);
  });

  it('records a cancellation that arrives once the tasks have started, and changes nothing', async () => {
    const { resource, user, reservationId, workflowId } = await slowPurchase(0);
    await untilTasksBegin(worker.client, workflowId);
    await expectLateCancellation(resource, user, reservationId, workflowId);

    const afterClose = await api.request('POST', '/v1/events', { ...purchaseEvent(resource, 5000, user, 'request.cancelled', reservationId) });
    expect(afterClose.body.signalled).toEqual([]);
    expect((await api.request('GET', `/v1/events/${afterClose.body.eventId}`)).body.alreadyClosed).toEqual([workflowId]);
  });

  it('records a cancellation that arrives while the tasks run after a window, and changes nothing', async () => {
    const { resource, user, reservationId, workflowId } = await slowPurchase(1);
    await untilWindowEnds(workflowId);
    await untilTasksBegin(worker.client, workflowId);
    await expectLateCancellation(resource, user, reservationId, workflowId);
  });

  it('fails the run with the script error code and line, running no later task', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 0, 'const amount = 6000;\nthrow new Error("no package for " + reservation.price_int);'));
    const event = purchaseEvent(resource, 5000);
    const accepted = await api.request('POST', '/v1/events', event);
    await finish(accepted.body.runs[0].workflowId);

    const run = await api.request('GET', `/v1/runs/${encodeURIComponent(accepted.body.runs[0].workflowId)}`);
    expect(run.body.status).toBe('failed');
    expect(run.body.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'script_runtime', line: 2 } });
    expect(run.body.tasks[0].error.message).toContain('no package for 5000');
    expect(run.body.tasks.slice(1).map((task: { status: string }) => task.status)).toEqual(['skipped', 'skipped']);
    expect(await balanceOf(event.data.reservation.user.id)).toBeNull();
    expect(await mailsTo(event.data.reservation.user.email)).toHaveLength(0);
  });

  it('keeps a run on the version it matched when the trigger is edited during its wait', async () => {
    const resource = `top-up-${randomUUID()}`;
    const triggerId = await createTrigger(topUpTrigger(resource, 3));
    const before = purchaseEvent(resource, 5000);
    const first = await api.request('POST', '/v1/events', before);

    const edited = await api.request('PUT', `/v1/triggers/${triggerId}`, topUpTrigger(resource, 0, "return { amount_cents: 1, vars: { DOLLARS: '$0.01' } };"));
    expect(edited.body.version).toBe(2);
    const after = purchaseEvent(resource, 5000);
    const second = await api.request('POST', '/v1/events', after);
    expect(second.body.runs[0].triggerVersion).toBe(2);
    await Promise.all([finish(first.body.runs[0].workflowId), finish(second.body.runs[0].workflowId)]);

    expect(await balanceOf(before.data.reservation.user.id)).toBe(6000);
    expect(await balanceOf(after.data.reservation.user.id)).toBe(1);
  });

  it('credits nothing and mails nothing when the price matches no package (when skips both)', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 0));
    const event = purchaseEvent(resource, 7000);
    const accepted = await api.request('POST', '/v1/events', event);
    await finish(accepted.body.runs[0].workflowId);

    const run = await api.request('GET', `/v1/runs/${encodeURIComponent(accepted.body.runs[0].workflowId)}`);
    expect(run.body.status).toBe('completed');
    expect(run.body.tasks[0]).toMatchObject({ id: 'compute', status: 'completed', output: { amount_cents: 0, vars: { DOLLARS: '$0' } } });
    expect(run.body.tasks[1]).toMatchObject({ id: 'credit', status: 'skipped', skipReason: expect.stringContaining('tasks.compute.amount_cents') });
    expect(run.body.tasks[2]).toMatchObject({ id: 'notify', status: 'skipped', skipReason: expect.stringContaining('did not match') });
    expect(await balanceOf(event.data.reservation.user.id)).toBeNull();
    expect(await mailsTo(event.data.reservation.user.email)).toEqual([]);
  });

  it('starts nothing for an event no trigger listens to', async () => {
    const event = purchaseEvent(`unknown-${randomUUID()}`, 5000);
    const accepted = await api.request('POST', '/v1/events', event);
    expect(accepted.status).toBe(202);
    expect(accepted.body.runs).toEqual([]);
  });
});
