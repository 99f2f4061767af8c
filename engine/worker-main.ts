import { createActivities } from '../activities';
import { taskTypesByActivity } from '../tasks/activities';
import { createSandbox } from '../scripts-sandbox';
import { loadConfig } from './config';
import { BalancePump } from './events/balance-pump';
import { createEventIngestor } from './events/ingest';
import { createLedger } from './ledger';
import { createLogger } from './logger';
import { createSmtpMailer } from './mail/mailer';
import { createTemplateStore } from './mail/template-store';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from './mail/templates';
import { createMetrics, meteredActivities, meteredLedger, meteredMailer, meteredSandbox } from './metrics';
import { freeLoopbackPort, startMetricsServer } from './metrics-server';
import { pepperOf } from './secret-seal';
import { exitOnStartupError } from './shutdown';
import { connectStore } from './store';
import { connectWorkerConnection, createTemporalClient, ensureSearchAttributes } from './temporal';
import { createCustomerDirectory, groupPolicyLayer } from './customers';
import { createOwnerContextLoader } from './customers/run-context';
import { createScheduleSync, reconcileSchedulesPeriodically } from './schedules/schedule-sync';
import { createTriggerStore } from './triggers/trigger-store';
import { createWebhookSecrets } from './triggers/webhook-secrets';
import { createWebhookSender } from './webhooks';
import { httpGateways } from './payments/gateway';
import { bundleWorkflows, createEngineWorker, installTemporalRuntime } from './worker';

/** Which task type each activity executes, for the task duration series (with the previous release's three). */
const ACTIVITY_TASK_TYPES = { ...taskTypesByActivity(), runScriptTask: 'script', postAccountTask: 'account', sendEmailTask: 'email' };

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'creditflow-worker');
  const metrics = createMetrics('worker');
  const sdkMetricsAddress = config.METRICS_PORT > 0 ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
  installTemporalRuntime(logger, sdkMetricsAddress ? { metricsAddress: sdkMetricsAddress } : {});
  const store = await connectStore(config.MONGODB_URI);
  // This process's postings wake its balance pump (once it exists) at once; other processes' are found by its poll.
  const balancePumpWake: Pick<BalancePump, 'wake'> = { wake: () => undefined };
  const ledger = createLedger({ connection: store, policyDefaults: config.LEDGER_POLICY_DEFAULTS, policyLayer: groupPolicyLayer(store), onEntryInserted: (entry, markId) => balancePumpWake.wake(entry, markId) });
  await ledger.ensureIndexes();
  const client = await createTemporalClient(config);
  const added = await ensureSearchAttributes(client, config.TEMPORAL_NAMESPACE).catch((error: unknown) => {
    logger.warn({ err: error }, 'could not register search attributes; create CreditflowTriggerId and CreditflowEventId (Keyword) in the namespace');
    return [];
  });
  if (added.length > 0) logger.info({ added }, 'registered search attributes');
  const sandbox = createSandbox({
    maxTimeoutMs: config.SCRIPT_MAX_TIMEOUT_MS,
    maxMemoryMb: config.SCRIPT_MAX_MEMORY_MB,
    processes: config.SCRIPT_SANDBOX_PROCESSES,
    queueLimit: config.SCRIPT_QUEUE_LIMIT,
    burstPollUs: config.SCRIPT_SANDBOX_BURST_POLL_US,
  });
  const mailer = createSmtpMailer(config.SMTP_URL, config.MAIL_FROM);
  const webhookSecrets = createWebhookSecrets({ connection: store, pepper: pepperOf(config) });
  const triggers = createTriggerStore(store);
  const customers = createCustomerDirectory({ connection: store, ledger });
  // Runs of balance events see the owner's profile as `customer`, as runs of the API's events do.
  const ownerContext = createOwnerContextLoader({ profileOf: customers.profileOf, ledger, defaultUnit: config.DEFAULT_UNIT });
  const ingestor = createEventIngestor({ connection: store, triggers, temporal: client, taskQueue: config.TEMPORAL_TASK_QUEUE, logger, metrics, ownerContext, cancelHoldMs: config.CANCEL_HOLD_HOURS * 3_600_000 });
  const activities = createActivities({
    connection: store,
    sandbox: meteredSandbox(sandbox, metrics),
    ledger: meteredLedger(ledger, metrics),
    mailer: meteredMailer(mailer, metrics),
    templates: createTemplateStore(store, fileTemplateCatalog(BUNDLED_TEMPLATES_DIR)).catalog,
    ownerContext,
    webhooks: createWebhookSender({ allowedHosts: config.WEBHOOK_ALLOWED_HOSTS }),
    gateways: httpGateways(config.PAYMENT_GATEWAYS, createWebhookSender({ allowedHosts: config.WEBHOOK_ALLOWED_HOSTS })),
    webhookSecret: (triggerId) => webhookSecrets.current(triggerId),
    firings: { triggers, ledger, ingestor, logger, customers },
  });
  const worker = await createEngineWorker({
    connection: await connectWorkerConnection(config),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    activities: meteredActivities(activities, ACTIVITY_TASK_TYPES, metrics),
    workflowBundle: await bundleWorkflows(logger),
    metrics,
    // One script per sandbox process: none ever queues past its activity timeout.
    sandboxProcesses: config.SCRIPT_SANDBOX_PROCESSES,
  });
  const metricsServer = sdkMetricsAddress
    ? await startMetricsServer({ host: config.HOST, port: config.METRICS_PORT, metrics, sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`, logger })
    : undefined;
  const balancePump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, routingOf: ingestor.routingOf, logger, pollIntervalMs: config.BALANCE_EVENTS_POLL_MS });
  balancePumpWake.wake = (entry, markId) => balancePump.wake(entry, markId);
  balancePump.start();
  // Heals schedules whose sync after an API save failed or never ran, now and every few minutes.
  const stopReconciling = reconcileSchedulesPeriodically(createScheduleSync({ client, taskQueue: config.TEMPORAL_TASK_QUEUE, logger }), triggers, logger);
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, metricsPort: metricsServer?.port }, 'worker started');
  // The Temporal runtime stops the worker on SIGINT/SIGTERM; run() then
  // resolves once in-flight tasks are done, and we close the rest.
  await worker.run();
  stopReconciling();
  await balancePump.stop();
  sandbox.dispose();
  mailer.close();
  await Promise.all([store.close(), client.connection.close(), metricsServer?.close()]);
  logger.info('worker stopped');
}

main().catch((error: unknown) => exitOnStartupError('creditflow-worker', error));
