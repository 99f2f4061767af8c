// The renewal sweep's worker killed between a renewal's debit and its
// extension, inside a real scheduled firing (POST /v1/triggers/{id}/fire run
// by a worker process that has the firing activities): after the restart,
// the subscription is extended once and its owner debited once.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { renewalKey } from '../../engine/subscriptions/subscription-rules';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { firingDependencies } from '../support/firings';
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
    // The product's renewal sweep: a scheduled trigger (yearly, so only `fire` fires it here).
    const created = await api.request('POST', '/v1/triggers', { name: 'Renewals', on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } }, tasks: [{ id: 'renew', type: 'subscription_renewals', horizonDays: 0 }] });
    expect(created.status).toBe(201);
    const triggerId = created.body.id as string;
    const firingOf = async (firingId: string) => (await api.request('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(firingId)}`)).body as Record<string, unknown>;
    /** The firing once it has started its run (or `deadline` has passed). */
    const startedFiring = async (firingId: string, waitMs: number) => {
      for (const deadline = Date.now() + waitMs; ; await new Promise((resolve) => setTimeout(resolve, 250))) {
        const firing = await firingOf(firingId);
        if (firing.status !== 'pending' && firing.status !== 'running') return firing;
        if (Date.now() > deadline) return firing;
      }
    };

    // The worker process runs the firing, which starts the run, whose renewal task posts the debit and is killed there.
    const child = await spawnWorkerProcess({ dbName: store.dbName, taskQueue, crash: 'after-post', firings: true });
    const fired = await api.request('POST', `/v1/triggers/${triggerId}/fire`, {});
    expect(fired.status).toBe(202);
    const killedFiring = fired.body.firingId as string;
    await processExited(child);
    expect(child.signalCode).toBe('SIGKILL');

    // The kill landed between the two: the debit is stored, the period not extended, and the firing has no report.
    const entries = async () => (await api.request('GET', `/v1/accounts/${ownerId}/entries?unit=CREDIT`)).body.items as Array<{ id: string; direction: string; idempotencyKey: string }>;
    const debits = (await entries()).filter((entry) => entry.direction === 'debit');
    expect(debits).toEqual([expect.objectContaining({ idempotencyKey: renewalKey(id, end) })]);
    expect((await api.request('GET', `/v1/subscriptions/${id}`)).body.currentPeriodEnd).toBe(end.toISOString());
    expect(await firingOf(killedFiring)).not.toHaveProperty('report');

    // Restarted (with the firing activities), the next firing finishes the period: the ledger replays the debit, the extension is recorded.
    const scheduling = await firingDependencies(store.connection, createLedger({ connection: store.connection }), taskQueue);
    const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger: createLedger({ connection: store.connection }), mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), firings: scheduling.firings }), taskQueue);
    let next: Record<string, unknown>;
    try {
      const again = await api.request('POST', `/v1/triggers/${triggerId}/fire`, {});
      expect(again.status).toBe(202);
      const nextFiring = again.body.firingId as string;
      expect(nextFiring).not.toBe(killedFiring);
      expect(await startedFiring(nextFiring, 30_000)).toMatchObject({ status: 'completed', started: 1 });
      await client.workflow.getHandle(`${triggerId}:${nextFiring}`).result();
      next = await firingOf(nextFiring);
      // The killed firing had started its run before the kill (else its activity, retried on this worker after the heartbeat timeout, starts it now).
      await startedFiring(killedFiring, 150_000);
    } finally {
      await worker.stop();
      await scheduling.close();
    }
    expect(next).toMatchObject({ status: 'completed', started: 1, report: { taskId: 'renew', type: 'subscription_renewals', due: 1, renewed: 1, refused: 0, failed: 0 } });
    expect(await firingOf(killedFiring)).toMatchObject({ status: 'completed', started: 1 });
    expect((await entries()).filter((entry) => entry.direction === 'debit')).toHaveLength(1);
    expect((await api.request('GET', `/v1/accounts/${ownerId}?unit=CREDIT`)).body.balance).toBe(70);
    expect((await api.request('GET', `/v1/subscriptions/${id}`)).body.currentPeriodEnd).toBe(new Date(end.getTime() + 30 * DAY_MS).toISOString());
    expect((await api.request('GET', `/v1/subscriptions/${id}/renewals`)).body.items).toEqual([expect.objectContaining({ outcome: 'renewed', entryId: debits[0]!.id })]);
    expect((await api.request('DELETE', `/v1/triggers/${triggerId}`)).status).toBe(204);
  }, 240_000);
});
