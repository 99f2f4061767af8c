// Reading runs while no worker runs (all workers stopped or down): a
// completed run is read from its history alone; an open run, whose state
// only a worker can answer, is a 503 naming why, not a hang or a 500.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('runs_without_worker');
});

afterAll(async () => {
  await harness?.close();
});

it('reads a completed run from its history and answers 503 run_state_unavailable for an open one', async () => {
  const quick = `top-up-${randomUUID()}`;
  const slow = `top-up-${randomUUID()}`;
  await harness.createTrigger(topUpTrigger(quick, 0));
  await harness.createTrigger(topUpTrigger(slow, 600));
  const done = (await harness.api.request('POST', '/v1/events', purchaseEvent(quick, 5000))).body.runs[0].workflowId as string;
  await harness.worker.client.workflow.getHandle(done).result();
  const open = (await harness.api.request('POST', '/v1/events', purchaseEvent(slow, 5000))).body.runs[0].workflowId as string;

  // Every worker gone; the API and Temporal still run.
  harness.worker.worker.shutdown();
  await harness.worker.running;

  const completed = await harness.api.request('GET', `/v1/runs/${encodeURIComponent(done)}`);
  expect(completed.status).toBe(200);
  expect(completed.body).toMatchObject({ status: 'completed', phase: 'completed' });
  expect(completed.body.tasks.map((task: { status: string }) => task.status)).toEqual(['completed', 'completed', 'completed']);

  const waiting = await harness.api.request('GET', `/v1/runs/${encodeURIComponent(open)}`);
  expect(waiting.status).toBe(503);
  expect(waiting.body).toMatchObject({ code: 'run_state_unavailable' });
  expect(waiting.body.detail).toContain(open);
  await harness.worker.client.workflow.getHandle(open).terminate('test over');
}, 60_000);
