// Reading runs while no worker runs (all workers stopped or down): a
// completed run is read from its history alone; an open run, whose state
// only a worker can answer, is a 503 naming why, not a hang or a 500.
import { randomUUID } from 'node:crypto';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('runs_without_worker');
  const ledger = createLedger({ connection: store.connection });
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

it('reads a completed run from its history and answers 503 run_state_unavailable for an open one', async () => {
  const quick = `top-up-${randomUUID()}`;
  const slow = `top-up-${randomUUID()}`;
  expect((await api.request('POST', '/v1/triggers', topUpTrigger(quick, 0))).status).toBe(201);
  expect((await api.request('POST', '/v1/triggers', topUpTrigger(slow, 600))).status).toBe(201);
  const done = (await api.request('POST', '/v1/events', purchaseEvent(quick, 5000))).body.runs[0].workflowId as string;
  await worker.client.workflow.getHandle(done).result();
  const open = (await api.request('POST', '/v1/events', purchaseEvent(slow, 5000))).body.runs[0].workflowId as string;

  // Every worker gone; the API and Temporal still run.
  worker.worker.shutdown();
  await worker.running;

  const completed = await api.request('GET', `/v1/runs/${encodeURIComponent(done)}`);
  expect(completed.status).toBe(200);
  expect(completed.body).toMatchObject({ status: 'completed', phase: 'completed' });
  expect(completed.body.tasks.map((task: { status: string }) => task.status)).toEqual(['completed', 'completed', 'completed']);

  const waiting = await api.request('GET', `/v1/runs/${encodeURIComponent(open)}`);
  expect(waiting.status).toBe(503);
  expect(waiting.body).toMatchObject({ code: 'run_state_unavailable' });
  expect(waiting.body.detail).toContain(open);
  await worker.client.workflow.getHandle(open).terminate('test over');
}, 60_000);
