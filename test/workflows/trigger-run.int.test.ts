import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { createActivities } from '../../activities';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { messageIdFor } from '../../engine/mail/outbox';
import { cancelRequestSignal, runStateQuery, triggerRun } from '../../workflows';
import type { TriggerRunInput } from '../../workflows/types';
import { planTasks } from '../../tasks/registry';
import { mailsTo, waitForMails } from '../support/mailbox';
import { openTestStore } from '../support/store';
import { startTestWorker, type TestWorker } from '../support/temporal';

// This file drives the workflow with email tasks only, so it needs no script
// sandbox or ledger: those calls fail loudly if a test reaches them.
const unused = { run: () => Promise.reject(new Error('sandbox not used here')), post: () => Promise.reject(new Error('ledger not used here')), transfer: () => Promise.reject(new Error('ledger not used here')) };

let store: Awaited<ReturnType<typeof openTestStore>>;
let worker: TestWorker;
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('trigger_run');
  worker = await startTestWorker(activities());
});

function activities() {
  return createActivities({
    connection: store.connection,
    sandbox: unused,
    ledger: unused,
    mailer,
    templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR),
  });
}

afterAll(async () => {
  await worker?.stop();
  mailer.close();
  await store?.close();
});

function runInput(email: string, waitSeconds: number): TriggerRunInput {
  return {
    trigger: {
      id: 'trg_welcome',
      version: 3,
      name: 'Welcome mail',
      wait: { seconds: waitSeconds },
      cancelOn: { types: ['request.cancelled'], correlate: 'data.reservation.id' },
      tasks: [{ id: 'notify', type: 'email', to: '{{reservation.user.email}}', subject: 'Hello {{reservation.user.name}}', text: 'Reservation {{reservation.id}} is confirmed.' }],
    },
    event: {
      id: `evt_${randomUUID()}`,
      type: 'request.created',
      occurredAt: '2026-11-21T10:00:00Z',
      data: { reservation: { id: 'res_1', user: { id: 'user_1', email, name: 'Ada' } } },
    },
  };
}

function start(input: TriggerRunInput) {
  return worker.client.workflow.start(triggerRun, { args: [input], taskQueue: worker.taskQueue, workflowId: `test-${input.event.id}` });
}

describe('a trigger run on the real Temporal server', () => {
  it('runs its email task and sends exactly one message with a deterministic Message-ID', async () => {
    const email = `ada-${randomUUID()}@example.com`;
    const handle = await start(runInput(email, 0));
    const result = await handle.result();

    expect(result.phase).toBe('completed');
    expect(result.tasks).toEqual([expect.objectContaining({ id: 'notify', status: 'completed' })]);
    const mails = await waitForMails(email, 1);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Hello Ada');
    expect(mails[0]!.text).toContain('Reservation res_1 is confirmed.');
    expect(mails[0]!.headers['message-id']).toBe(messageIdFor(`${handle.workflowId}:notify`));
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  it('ends as cancelled, with no task run, when the cancellation arrives during the wait', async () => {
    const email = `bob-${randomUUID()}@example.com`;
    const input = runInput(email, 60);
    const handle = await start(input);
    await handle.signal(cancelRequestSignal, { eventId: 'evt_cancel', eventType: 'request.cancelled' });
    await handle.cancel();

    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    const state = await handle.query(runStateQuery);
    expect(state.phase).toBe('cancelled');
    expect(state.cancelledBy).toEqual({ eventId: 'evt_cancel', eventType: 'request.cancelled' });
    expect(state.tasks[0]!.status).toBe('skipped');
    expect(await mailsTo(email)).toHaveLength(0);
  });

  it('fails the run naming the path when a reference has no value', async () => {
    const input = runInput('unused@example.com', 0);
    input.trigger.tasks = [{ id: 'notify', type: 'email', to: '{{reservation.user.phone}}', subject: 's', text: 't' }];
    const handle = await start(input);

    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const state = await handle.query(runStateQuery);
    expect(state.phase).toBe('failed');
    expect(state.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'reference_missing' } });
    expect(state.tasks[0]!.error!.message).toContain('reservation.user.phone');
  });
});

describe('a cancellation delivered before a run without a wait has begun', () => {
  /**
   * Starts the run on a task queue no worker polls yet and signals the
   * cancellation, so that the worker started afterwards receives both in
   * its first activation, as a retried workflow task would.
   */
  async function cancelledBeforeFirstTask(flags: Partial<TriggerRunInput>): Promise<{ result: Awaited<ReturnType<typeof triggerRun>>; email: string; workflowId: string }> {
    const email = `${randomUUID().slice(0, 8)}@example.com`;
    const base = runInput(email, 0);
    const input: TriggerRunInput = { ...base, trigger: { ...base.trigger, tasks: planTasks(base.trigger.tasks) }, ...flags };
    const taskQueue = `late-${randomUUID()}`;
    const workflowId = `test-${input.event.id}`;
    const handle = await worker.client.workflow.start(triggerRun, { args: [input], taskQueue, workflowId });
    await handle.signal(cancelRequestSignal, { eventId: 'evt_cancel', eventType: 'request.cancelled' });
    const late = await startTestWorker(activities(), taskQueue);
    try {
      return { result: await handle.result(), email, workflowId };
    } finally {
      await late.stop();
    }
  }

  it('is a late one when the run begins at its start (runningFromStart): the tasks run and the cancellation is recorded', async () => {
    const { result, email, workflowId } = await cancelledBeforeFirstTask({ runningFromStart: true });
    expect(result.phase).toBe('completed');
    expect(result.cancelledBy).toBeUndefined();
    expect(result.lateCancellations).toEqual([{ eventId: 'evt_cancel', eventType: 'request.cancelled', phase: 'running' }]);
    expect((await waitForMails(email, 1)).map((mail) => mail.headers['x-creditflow-outbox-key'])).toEqual([`${workflowId}:notify`]);
  });

  it('cancels a run started by an earlier release (no runningFromStart) before its tasks, as it always did', async () => {
    const { result, email } = await cancelledBeforeFirstTask({});
    expect(result.phase).toBe('cancelled');
    expect(result.cancelledBy).toEqual({ eventId: 'evt_cancel', eventType: 'request.cancelled' });
    expect(await mailsTo(email)).toEqual([]);
  });
});
