import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../../activities';
import { createLedger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, type TestApi } from '../support/api';
import { processExited, spawnWorkerProcess } from '../support/spawn-worker';
import { openTestStore } from '../support/store';
import { startTestWorker, workflowBundle, type TestWorker } from '../support/temporal';
import { purchaseEvent } from '../support/top-up';

const taskQueue = `test-transfer-restart-${randomUUID()}`;
let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;
let api: TestApi;
const sandbox = createSandbox();
const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');

beforeAll(async () => {
  store = await openTestStore('transfer_restart');
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

/** A worker in its own process that SIGKILLs itself right after a transfer's debit is stored; resolves once it polls. */
function spawnCrashingWorker() {
  return spawnWorkerProcess({ dbName: store.dbName, taskQueue, crash: 'after-transfer-debit' });
}

function inProcessWorker(): Promise<TestWorker> {
  return startTestWorker(createActivities({ connection: store.connection, sandbox, ledger: createLedger({ connection: store.connection }), mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR) }), taskQueue);
}

/** A trigger whose one task moves the reservation's price from the master account to the customer. */
function transferTrigger(resource: string, master: string) {
  return {
    name: `Partner payout (${resource})`,
    on: { types: ['request.created'], filter: { 'data.reservation.resource.id': resource } },
    wait: { seconds: 0 },
    tasks: [{ id: 'payout', type: 'transfer', from: master, to: '{{reservation.user.id}}', amountFrom: 'reservation.price_int', unit: 'USD', createIfMissing: true, comment: 'Partner payout' }],
  };
}

async function entriesOf(ownerId: string) {
  const response = await api.request('GET', `/v1/accounts/${encodeURIComponent(ownerId)}/entries?unit=USD&limit=50`);
  return response.status === 404 ? [] : response.body.items;
}

describe('a transfer task whose worker is killed between its halves', () => {
  it('is completed by the next worker: one debit, one credit, paired, balances right, verify clean', async () => {
    const resource = `payout-${randomUUID()}`;
    const master = `partner_master_${randomUUID().slice(0, 8)}`;
    const funded = await api.request('POST', `/v1/accounts/${master}/entries`, { unit: 'USD', direction: 'credit', amount: 50000, idempotencyKey: `fund-${master}`, createIfMissing: true });
    expect(funded.status).toBe(201);
    expect((await api.request('POST', '/v1/triggers', transferTrigger(resource, master))).status).toBe(201);

    const child = await spawnCrashingWorker();
    const event = purchaseEvent(resource, 7500);
    const customer = event.data.reservation.user.id;
    const accepted = await api.request('POST', '/v1/events', event);
    expect(accepted.status).toBe(202);
    const workflowId: string = accepted.body.runs[0].workflowId;
    await processExited(child);
    expect(child.signalCode).toBe('SIGKILL');

    // The kill landed between the halves: the debit is stored, the credit is not, and verify sees the open transfer.
    const ledger = createLedger({ connection: store.connection });
    expect((await entriesOf(master)).filter((entry: { transferLeg?: string }) => entry.transferLeg === 'debit')).toHaveLength(1);
    expect(await entriesOf(customer)).toEqual([]);
    expect((await ledger.verify()).brokenTransfers).toHaveLength(1);

    // The run's tasks are read by query, which needs a worker: read them before it stops.
    const worker = await inProcessWorker();
    let run;
    try {
      await client.workflow.getHandle(workflowId).result();
      run = await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`);
    } finally {
      await worker.stop();
    }
    expect(run.body.status).toBe('completed');
    expect(run.body.tasks).toEqual([expect.objectContaining({ id: 'payout', status: 'completed' })]);
    const output = run.body.tasks[0].output;
    expect(output).toMatchObject({ fromOwnerId: master, toOwnerId: customer, unit: 'USD', amount: 7500, fromBalanceAfter: 42500, toBalanceAfter: 7500 });

    const [fundingEntry, debit, ...moreFrom] = [...(await entriesOf(master))].reverse();
    const [credit, ...moreTo] = await entriesOf(customer);
    expect(fundingEntry).toMatchObject({ direction: 'credit', amount: 50000 });
    expect(fundingEntry.transferId).toBeUndefined();
    expect(moreFrom).toEqual([]);
    expect(moreTo).toEqual([]);
    expect(debit).toMatchObject({ id: output.debitEntryId, direction: 'debit', amount: 7500, balanceAfter: 42500, transferId: output.transferId, transferLeg: 'debit', counterparty: { ownerId: customer, unit: 'USD' } });
    expect(credit).toMatchObject({ id: output.creditEntryId, direction: 'credit', amount: 7500, balanceAfter: 7500, transferId: output.transferId, transferLeg: 'credit', counterparty: { ownerId: master, unit: 'USD' } });

    expect((await api.request('GET', `/v1/accounts/${master}?unit=USD`)).body.balance).toBe(42500);
    expect((await api.request('GET', `/v1/accounts/${customer}?unit=USD`)).body.balance).toBe(7500);
    const report = await ledger.verify();
    expect(report.brokenTransfers).toEqual([]);
    expect(report).toMatchObject({ broken: [] });
  });
});
