// wait_for_event on a real API, worker and Temporal server: a run waits
// durably for a correlated event, also one that came before the wait began,
// and fails with wait_timeout when none comes.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('wait_for_event');
});

afterAll(async () => {
  await engine?.close();
});

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

/** A purchase that waits for its payment confirmation, then credits the amount confirmed. */
async function paymentTrigger(options: { windowSeconds?: number; timeoutSeconds?: number } = {}) {
  const purchase = `${unique('order').toLowerCase()}.created`;
  const confirmed = `${unique('payment').toLowerCase()}.confirmed`;
  await engine.createTrigger({
    name: 'Credit once paid', on: { types: [purchase] }, wait: { seconds: options.windowSeconds ?? 0 },
    tasks: [
      { id: 'paid', type: 'wait_for_event', types: [confirmed], correlate: { path: 'data.payment.orderId', equals: '{{data.order.id}}' }, timeoutSeconds: options.timeoutSeconds ?? 60 },
      { id: 'credit', type: 'account', action: 'credit', amountFrom: 'tasks.paid.data.payment.amount', owner: '{{data.order.owner}}', createIfMissing: true, unit: 'USD' },
    ],
  });
  return { purchase, confirmed };
}

const order = () => ({ id: unique('ord'), owner: unique('user') });

async function runningTask(workflowId: string, taskId: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const run = (await engine.api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`)).body;
    if (run.tasks?.find((task: { id: string; status: string }) => task.id === taskId)?.status === 'running') return;
    if (Date.now() > deadline) throw new Error(`task ${taskId} never started waiting: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('wait_for_event', () => {
  it('waits until the correlated event arrives and outputs it', async () => {
    const { purchase, confirmed } = await paymentTrigger();
    const ord = order();
    const started = await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: purchase, data: { order: ord } });
    const workflowId = started.body.runs[0].workflowId as string;
    await runningTask(workflowId, 'paid');

    const other = await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: confirmed, data: { payment: { orderId: unique('ord'), amount: 1 } } });
    expect(other.body.released).toEqual([]);
    const payment = { id: unique('evt'), type: confirmed, data: { payment: { orderId: ord.id, amount: 4200 } } };
    const released = await engine.api.request('POST', '/v1/events', payment);
    expect(released.body.released).toEqual([workflowId]);

    const run = await engine.settledRun(workflowId);
    expect(run.status).toBe('completed');
    expect(run.tasks[0].output).toMatchObject({ id: payment.id, type: confirmed, data: payment.data });
    expect(await engine.balanceOf(ord.owner)).toBe(4200);
  });

  it('is released by an event that arrived before the wait began (during the window)', async () => {
    const { purchase, confirmed } = await paymentTrigger({ windowSeconds: 2 });
    const ord = order();
    const started = await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: purchase, data: { order: ord } });
    await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: confirmed, data: { payment: { orderId: ord.id, amount: 900 } } });
    const run = await engine.settledRun(started.body.runs[0].workflowId);
    expect(run.status).toBe('completed');
    expect(await engine.balanceOf(ord.owner)).toBe(900);
  });

  it('fails with wait_timeout when no matching event comes in time, crediting nothing', async () => {
    const { purchase, confirmed } = await paymentTrigger({ timeoutSeconds: 2 });
    const ord = order();
    const started = await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: purchase, data: { order: ord } });
    // Same type, another order: it must not release this run.
    await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: confirmed, data: { payment: { orderId: `${ord.id}-other`, amount: 900 } } });
    const run = await engine.settledRun(started.body.runs[0].workflowId);
    expect(run.status).toBe('failed');
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'wait_timeout' } });
    expect(run.tasks[1].status).toBe('skipped');
    expect(await engine.balanceOf(ord.owner)).toBeNull();
  });

  it('fails with reference_missing when equals names nothing in the run', async () => {
    const { purchase } = await paymentTrigger();
    const started = await engine.api.request('POST', '/v1/events', { id: unique('evt'), type: purchase, data: { order: { owner: unique('user') } } });
    const run = await engine.settledRun(started.body.runs[0].workflowId);
    expect(run.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'reference_missing' } });
  });

  it('shows in a dry run what it would wait for, waiting for nothing', async () => {
    const { purchase, confirmed } = await paymentTrigger();
    const ord = order();
    const dry = await engine.api.request('POST', '/v1/triggers/dry-run', { event: { type: purchase, data: { order: ord } } });
    expect(dry.status).toBe(200);
    expect(dry.body.matched[0].tasks[0]).toMatchObject({ id: 'paid', outcome: 'would_complete', wait: { types: [confirmed], path: 'data.payment.orderId', equals: ord.id } });
  });
});
