// `npm run bench:renewals [subscriptions]` (default 10,000): on a throwaway
// stack (Temporal dev server, FerretDB, MailDev, the API over HTTP and one
// worker with the firing activities) it opens that many accounts with a due
// subscription each (every tenth owner holds less than the price and has a
// customer profile with an email address), and times one firing of the
// product's renewal trigger (a scheduled trigger whose one task is
// `subscription_renewals`, as examples/subscription-renewals without the
// admin email): from POST /v1/triggers/{id}/fire to its run closed. Prints
// the firing summary's `report` and checks its counts.
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildApi } from '../admin-api/server';
import { loadConfig } from '../engine/config';
import { createEventIngestor } from '../engine/events/ingest';
import { createLedger } from '../engine/ledger';
import { createSmtpMailer } from '../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../engine/mail/templates';
import type { FiringSummary } from '../engine/schedules/firing-store';
import { connectStore } from '../engine/store';
import { createSubscriptionStore } from '../engine/subscriptions/subscription-store';
import { createTriggerStore } from '../engine/triggers/trigger-store';
import { runSinks } from '../engine/worker';
import { createSandbox } from '../scripts-sandbox';
import { apiClient } from './api-client';
import { startTestStack } from './test-stack';

const COUNT = Number(process.argv[2] ?? 10_000);
const TASK_QUEUE = 'bench-renewals';
const ADMIN_KEY = 'bench-admin-key-0123456789';
const plan = { name: 'Pro', price: { amount: 30, unit: 'CREDIT' }, periodDays: 30 };

/** Runs `work` for 0..count-1 with `limit` in flight. */
async function inPool(count: number, limit: number, work: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await work(next++);
  }));
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await startTestStack({});
  const stopAll: Array<() => Promise<unknown>> = [() => stack.stop()];
  try {
    const config = loadConfig({ ADMIN_API_KEY: ADMIN_KEY, TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: TASK_QUEUE, LOG_LEVEL: 'silent' });
    const logger = pino({ level: 'silent' });
    const store = await connectStore(stack.env.MONGODB_URI, { dbName: 'bench_renewals' });
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const sandbox = createSandbox();
    const ledger = createLedger({ connection: store });
    await ledger.ensureIndexes();
    const mailer = createSmtpMailer(stack.env.SMTP_URL, 'bench@creditflow.local');
    const triggers = createTriggerStore(store);
    const ingestor = createEventIngestor({ connection: store, triggers, temporal: client, taskQueue: TASK_QUEUE, logger });
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./bench-sweep-workflows'), logger: new DefaultLogger('WARN') });
    const activities = createActivities({ connection: store, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), firings: { triggers, ledger, ingestor } });
    const worker = await Worker.create({ connection: await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS }), taskQueue: TASK_QUEUE, workflowBundle: { code }, activities, sinks: runSinks(undefined) });
    const running = worker.run();
    stopAll.unshift(async () => { worker.shutdown(); await running; sandbox.dispose(); mailer.close(); await store.close(); await connection.close(); });

    const api = buildApi({ config, logger, store, temporal: client, sandbox });
    await api.ensureIndexes();
    const server = api.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    stopAll.unshift(async () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
    const http = apiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, ADMIN_KEY);

    console.log(`${COUNT} due subscriptions; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}); node ${process.version}; ${new Date().toISOString()}\n`);
    // Subscriptions are written through the store (the API would check each owner's profile); the refused owners get a profile with an address through the API, so their notices are emailed.
    const subscriptions = createSubscriptionStore({ connection: store, ledger, ownerKnown: async () => true });
    const end = new Date(Date.now() - 60_000);
    const setupStart = performance.now();
    await inPool(COUNT, 32, async (index) => {
      const ownerId = `owner_${String(index).padStart(6, '0')}`;
      const refused = index % 10 === 0;
      if (refused) {
        const profile = await http.call('PUT', `/v1/customers/${ownerId}`, { name: 'Bench', email: `${ownerId}@example.com` });
        if (profile.status >= 300) throw new Error(`PUT customer answered ${profile.status}: ${JSON.stringify(profile.body)}`);
      }
      await ledger.post({ ownerId, unit: 'CREDIT', direction: 'credit', amount: refused ? 10 : 100, idempotencyKey: `fund:${ownerId}`, createIfMissing: true, source: { kind: 'api', keyId: 'bench' } });
      await subscriptions.put(`sub_${String(index).padStart(6, '0')}`, { ownerId, plan, currentPeriodEnd: end, autoRenew: true });
    });
    console.log(`set up in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

    const created = await http.call<{ id: string }>('POST', '/v1/triggers', { name: 'Bench renewals', on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } }, tasks: [{ id: 'renew', type: 'subscription_renewals', horizonDays: 0 }] });
    if (created.status !== 201) throw new Error(`POST /v1/triggers answered ${created.status}: ${JSON.stringify(created.body)}`);
    const triggerId = created.body.id;
    const startedAt = performance.now();
    const fired = await http.call<FiringSummary>('POST', `/v1/triggers/${triggerId}/fire`, {});
    if (fired.status !== 202) throw new Error(`fire answered ${fired.status}: ${JSON.stringify(fired.body)}`);
    const firingPath = `/v1/triggers/${triggerId}/firings/${encodeURIComponent(fired.body.firingId)}`;
    let firing: FiringSummary;
    for (;;) {
      firing = (await http.call<FiringSummary>('GET', firingPath)).body;
      if (firing.status !== 'pending' && firing.status !== 'running') break;
      await sleep(100);
    }
    if (firing.status !== 'completed' || firing.started !== 1) throw new Error(`the firing did not start its run: ${JSON.stringify(firing)}`);
    await client.workflow.getHandle(`${triggerId}:${fired.body.firingId}`).result();
    const wallMs = performance.now() - startedAt;
    firing = (await http.call<FiringSummary>('GET', firingPath)).body;
    const report = firing.report;
    console.log(`firing: fire -> run closed in ${(wallMs / 1000).toFixed(1)} s: ${((COUNT / wallMs) * 1000).toFixed(0)} subscriptions/s`);
    console.log(`report: ${JSON.stringify(report)}`);
    const refused = Math.ceil(COUNT / 10);
    if (!report || report.considered !== COUNT || report.renewed !== COUNT - refused || report.refused !== refused || report.failed !== 0 || report.notified !== refused) {
      throw new Error(`the report is not what the subscriptions call for (${COUNT - refused} renewed, ${refused} refused and notified)`);
    }
  } finally {
    for (const stop of stopAll) await stop().catch(() => undefined);
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
