// The renewal sweep's worker killed between a renewal's debit and its
// extension: after the restart, the subscription is extended once and its
// owner debited once.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { renewalKey } from '../../engine/subscriptions/subscription-rules';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { processExited, spawnWorkerProcess } from '../support/spawn-worker';
import { openTestStore } from '../support/store';
import { startTestWorker, workflowBundle } from '../support/temporal';

const taskQueue = `test-subscription-restart-${randomUUID()}`;
let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('subscription_restart');
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

const DAY_MS = 86_400_000;

describe('a renewal whose worker is killed between the debit and the extension', () => {
  it('is extended once, and debited once, after the restart', async () => {
    const ownerId = `agent_${randomUUID().slice(0, 8)}`;
    await api.request('PUT', `/v1/customers/${ownerId}`, { name: 'Agent', email: `${ownerId}@example.com` });
    await api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit: 'CREDIT', direction: 'credit', amount: 100, idempotencyKey: `fund-${ownerId}`, createIfMissing: true });
    const end = new Date(Date.now() - 60_000);
    const id = `sub_${ownerId}`;
    const plan = { name: 'Pro', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };
    expect((await api.request('PUT', `/v1/subscriptions/${id}`, { ownerId, plan, currentPeriodEnd: end.toISOString(), autoRenew: true })).status).toBe(201);
    // The renewal task on an event trigger: the spawned worker runs task activities, not schedule firings.
    const type = `renewals_${randomUUID().slice(0, 8)}.run`;
    expect((await api.request('POST', '/v1/triggers', { name: 'Renewals', on: { types: [type] }, tasks: [{ id: 'renew', type: 'subscription_renewals', horizonDays: 0 }] })).status).toBe(201);

    const child = await spawnWorkerProcess({ dbName: store.dbName, taskQueue, crash: 'after-post' });
    expect((await api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type, data: {} })).status).toBe(202);
    await processExited(child);
    expect(child.signalCode).toBe('SIGKILL');

    // The kill landed between the two: the debit is stored, the period not extended.
    const entries = async () => (await api.request('GET', `/v1/accounts/${ownerId}/entries?unit=CREDIT`)).body.items as Array<{ id: string; direction: string; idempotencyKey: string }>;
    const debits = (await entries()).filter((entry) => entry.direction === 'debit');
    expect(debits).toEqual([expect.objectContaining({ idempotencyKey: renewalKey(id, end) })]);
    expect((await api.request('GET', `/v1/subscriptions/${id}`)).body.currentPeriodEnd).toBe(end.toISOString());

    // Restarted, the next renewal pass finishes the period: the ledger replays the debit, the extension is recorded.
    const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger: createLedger({ connection: store.connection }), mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }), taskQueue);
    try {
      const accepted = await api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type, data: {} });
      await client.workflow.getHandle(accepted.body.runs[0].workflowId).result();
    } finally {
      await worker.stop();
    }
    expect((await entries()).filter((entry) => entry.direction === 'debit')).toHaveLength(1);
    expect((await api.request('GET', `/v1/accounts/${ownerId}?unit=CREDIT`)).body.balance).toBe(70);
    expect((await api.request('GET', `/v1/subscriptions/${id}`)).body.currentPeriodEnd).toBe(new Date(end.getTime() + 30 * DAY_MS).toISOString());
    expect((await api.request('GET', `/v1/subscriptions/${id}/renewals`)).body.items).toEqual([expect.objectContaining({ outcome: 'renewed', entryId: debits[0]!.id })]);
  }, 120_000);
});
