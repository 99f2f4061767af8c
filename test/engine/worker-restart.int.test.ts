import { randomUUID } from 'node:crypto';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { runStateQuery } from '../../workflows';
import { startTestApi, type TestApi } from '../support/api';
import { outboxKeysOf, sentMailTo } from '../support/mailbox';
import { processExited, spawnWorkerProcess } from '../support/spawn-worker';
import { openTestStore } from '../support/store';
import { startTestWorker, workflowBundle, type TestWorker } from '../support/temporal';
import { purchaseEvent, topUpTrigger } from '../support/top-up';
import { Client, Connection } from '@temporalio/client';

const taskQueue = `test-restart-${randomUUID()}`;
let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('restart');
  await createLedger({ connection: store.connection }).ensureIndexes();
  await workflowBundle();
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
  api = await startTestApi({ store: store.connection, temporal: client, taskQueue });
});

afterAll(async () => {
  await api?.close();
  await connection?.close();
  sandbox.dispose();
  mailer.close();
  await store?.close();
});

/** Starts the worker as a separate process and resolves once it polls. */
function spawnWorker(crashAfterPost: boolean) {
  return spawnWorkerProcess({ dbName: store.dbName, taskQueue, crash: crashAfterPost ? 'after-post' : 'none' });
}

async function inProcessWorker(): Promise<TestWorker> {
  return startTestWorker(createActivities({ connection: store.connection, sandbox, ledger: createLedger({ connection: store.connection }), mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }), taskQueue);
}

async function entriesOf(ownerId: string) {
  const ledger = createLedger({ connection: store.connection });
  return { account: await ledger.getAccount(ownerId, 'USD'), entries: (await ledger.listEntries(ownerId, 'USD', { limit: 50 })).items };
}

/** The run has closed and its killed worker has exited: one outbox record, and MailDev captured that message alone. */
async function expectOneMail(address: string): Promise<void> {
  const { recorded, captured } = await sentMailTo(store.connection, address);
  expect(recorded).toHaveLength(1);
  expect(outboxKeysOf(captured)).toEqual(recorded.map((record) => record._id));
}

describe('a run survives its worker being killed', () => {
  it('during the wait: a new worker finishes it with one entry and one email', async () => {
    const resource = `top-up-${randomUUID()}`;
    expect((await api.request('POST', '/v1/triggers', topUpTrigger(resource, 3))).status).toBe(201);
    const child = await spawnWorker(false);
    const event = purchaseEvent(resource, 5000);
    const accepted = await api.request('POST', '/v1/events', event);
    const handle = client.workflow.getHandle(accepted.body.runs[0].workflowId);
    expect((await handle.query(runStateQuery)).phase).toBe('waiting');

    child.kill('SIGKILL');
    await processExited(child);
    const worker = await inProcessWorker();
    try {
      const result = await handle.result();
      expect(result.phase).toBe('completed');
    } finally {
      await worker.stop();
    }
    const { account, entries } = await entriesOf(event.data.reservation.user.id);
    expect(account?.balance).toBe(6000);
    expect(entries).toHaveLength(1);
    await expectOneMail(event.data.reservation.user.email);
  });

  it('right after the credit was committed: the retried activity posts nothing twice', async () => {
    const resource = `top-up-${randomUUID()}`;
    expect((await api.request('POST', '/v1/triggers', topUpTrigger(resource, 0))).status).toBe(201);
    const child = await spawnWorker(true);
    const event = purchaseEvent(resource, 10000);
    const accepted = await api.request('POST', '/v1/events', event);
    await processExited(child);
    expect(child.signalCode).toBe('SIGKILL');

    const worker = await inProcessWorker();
    try {
      const result = await client.workflow.getHandle(accepted.body.runs[0].workflowId).result();
      expect(result.tasks.map((task: { status: string }) => task.status)).toEqual(['completed', 'completed', 'completed']);
      expect(result.tasks[1]!.output).toMatchObject({ replayed: true, balanceAfter: 15000 });
    } finally {
      await worker.stop();
    }
    const { account, entries } = await entriesOf(event.data.reservation.user.id);
    expect(account?.balance).toBe(15000);
    expect(entries).toHaveLength(1);
    await expectOneMail(event.data.reservation.user.email);
  });
});
