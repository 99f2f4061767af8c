// The throwaway stack that bench:sweep and bench:renewals time firings on:
// Temporal dev server, FerretDB and MailDev (devstack/test-stack.ts), one
// worker with the firing activities, and the API over HTTP.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import type { Connection as MongooseConnection } from 'mongoose';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildApi } from '../admin-api/server';
import { loadConfig } from '../engine/config';
import { createEventIngestor } from '../engine/events/ingest';
import { createLedger, type Ledger } from '../engine/ledger';
import { createSmtpMailer } from '../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../engine/mail/templates';
import { connectStore } from '../engine/store';
import { createTriggerStore, type TriggerStore } from '../engine/triggers/trigger-store';
import { capWorkflowThreadYoungGeneration, runSinks, WORKFLOW_BUNDLER_OPTIONS } from '../engine/worker';
import { createSandbox } from '../scripts-sandbox';
import { apiClient, type ApiClient } from './api-client';
import { startBenchServices } from './bench-stack';

export interface FiringBenchStack {
  store: MongooseConnection;
  client: Client;
  ledger: Ledger;
  triggers: TriggerStore;
  http: ApiClient;
  /** Stops everything it started, newest first. */
  stop(): Promise<void>;
}

/** Starts the stack on database `dbName` and task queue `taskQueue`; what started is stopped again if a later step fails. */
export async function startFiringBenchStack(options: { dbName: string; taskQueue: string; adminKey: string }): Promise<FiringBenchStack> {
  const { stack, stopAll, stop } = await startBenchServices();
  try {
    const config = loadConfig({ ADMIN_API_KEY: options.adminKey, TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: options.taskQueue, LOG_LEVEL: 'silent' });
    const logger = pino({ level: 'silent' });
    const store = await connectStore(stack.env.MONGODB_URI, { dbName: options.dbName });
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const sandbox = createSandbox();
    const ledger = createLedger({ connection: store });
    await ledger.ensureIndexes();
    const mailer = createSmtpMailer(stack.env.SMTP_URL, 'bench@creditflow.local');
    const triggers = createTriggerStore(store);
    const ingestor = createEventIngestor({ connection: store, triggers, temporal: client, taskQueue: options.taskQueue, logger });
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./bench-sweep-workflows'), ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') });
    const activities = createActivities({ connection: store, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), firings: { triggers, ledger, ingestor } });
    capWorkflowThreadYoungGeneration();
    const worker = await Worker.create({ connection: await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS }), taskQueue: options.taskQueue, workflowBundle: { code }, activities, sinks: runSinks(undefined) });
    const running = worker.run();
    stopAll.unshift(async () => { worker.shutdown(); await running; sandbox.dispose(); mailer.close(); await store.close(); await connection.close(); });

    const api = buildApi({ config, logger, store, temporal: client, sandbox });
    await api.ensureIndexes();
    const server = api.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    stopAll.unshift(async () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
    const http = apiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, options.adminKey);
    return { store, client, ledger, triggers, http, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
