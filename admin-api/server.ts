import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import type { Config } from '../engine/config';
import { createEventIngestor } from '../engine/events/ingest';
import { createCustomerDirectory, groupPolicyLayer } from '../engine/customers';
import { createOwnerContextLoader } from '../engine/customers/run-context';
import { createLedger } from '../engine/ledger';
import { createStatements } from '../engine/ledger/statement';
import { createTemplateStore } from '../engine/mail/template-store';
import { createDryRun } from '../engine/triggers/dry-run';
import type { Logger } from '../engine/logger';
import { meteredLedger, meteredSandbox, type Metrics } from '../engine/metrics';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog, type TemplateCatalog } from '../engine/mail/templates';
import { createRunReader } from '../engine/runs/run-reader';
import { pingStore } from '../engine/store';
import { pingTemporal } from '../engine/temporal';
import { createFiringStore } from '../engine/schedules/firing-store';
import { createRecordStore } from '../engine/records/record-store';
import { createScheduleSync } from '../engine/schedules/schedule-sync';
import { createTriggerStore } from '../engine/triggers/trigger-store';
import { createWebhookSecrets } from '../engine/triggers/webhook-secrets';
import { pepperOf } from '../engine/secret-seal';
import type { TriggerCheckers } from '../engine/triggers/validate';
import { checkLimits, type Sandbox } from '../scripts-sandbox';
import { createApiKeyStore } from './api-keys/key-store';
import { apiKeyRoutes } from './api-keys/routes';
import { createApp } from './app';
import { adminKeyResolver, chainResolvers } from './auth';
import { accountRoutes } from './accounts/routes';
import { adjustmentRoutes } from './adjustments/routes';
import { customerRoutes } from './customers/routes';
import { packageRoutes } from './packages/routes';
import { subscriptionRoutes } from './subscriptions/routes';
import { createSubscriptionStore } from '../engine/subscriptions/subscription-store';
import { createPackageStore } from '../engine/packages/package-store';
import { recordRoutes } from './records/routes';
import { paymentRequestRoutes } from './payment-requests/routes';
import { createPaymentRequests } from '../engine/payments/payment-requests';
import { eventRoutes } from './events/routes';
import { runRoutes } from './runs/routes';
import { scriptRoutes } from './scripts/routes';
import { templateRoutes } from './templates/routes';
import { firingRoutes } from './triggers/firing-routes';
import { triggerRoutes } from './triggers/routes';

export interface ApiDependencies {
  config: Config;
  logger: Logger;
  store: Connection;
  temporal: Client;
  sandbox: Pick<Sandbox, 'checkSyntax' | 'run'>;
  /** Shipped templates; defaults to the repository's `templates/` folder. */
  bundledTemplates?: TemplateCatalog;
  /** The process's metrics, served on GET /metrics; without it there is no /metrics. */
  metrics?: Metrics;
}

/**
 * Wires the engine's services into the HTTP app: the one place that knows
 * every route module. `main.ts` and the API tests both build the API here.
 */
export function buildApi(deps: ApiDependencies) {
  const { config, logger, store, temporal, metrics } = deps;
  const sandbox = metrics ? meteredSandbox(deps.sandbox, metrics) : deps.sandbox;
  const templates = createTemplateStore(store, deps.bundledTemplates ?? fileTemplateCatalog(BUNDLED_TEMPLATES_DIR));
  const sandboxMaximums = { maxTimeoutMs: config.SCRIPT_MAX_TIMEOUT_MS, maxMemoryMb: config.SCRIPT_MAX_MEMORY_MB };
  const checkers: TriggerCheckers = {
    checkScript: (code) => sandbox.checkSyntax(code),
    checkScriptLimits: (limits) => checkLimits(limits, sandboxMaximums),
    templates: templates.catalog,
    defaultUnit: config.DEFAULT_UNIT,
    webhookAllowedHosts: config.WEBHOOK_ALLOWED_HOSTS,
    paymentGateways: Object.keys(config.PAYMENT_GATEWAYS),
  };
  const plainLedger = createLedger({ connection: store, policyDefaults: config.LEDGER_POLICY_DEFAULTS, policyLayer: groupPolicyLayer(store) });
  const ledger = metrics ? meteredLedger(plainLedger, metrics) : plainLedger;
  const customers = createCustomerDirectory({ connection: store, ledger });
  const ownerContext = createOwnerContextLoader({ profileOf: customers.profileOf, ledger, defaultUnit: config.DEFAULT_UNIT });
  const triggers = createTriggerStore(store);
  const packages = createPackageStore(store);
  const subscriptions = createSubscriptionStore({ connection: store, ledger, ownerKnown: async (ownerId) => (await customers.profileOf(ownerId)) !== null });
  const webhookSecrets = createWebhookSecrets({ connection: store, pepper: pepperOf(config) });
  const events = createEventIngestor({ connection: store, triggers, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, logger, ownerContext, cancelHoldMs: config.CANCEL_HOLD_HOURS * 3_600_000, ...(metrics ? { metrics } : {}) });
  const dryRun = createDryRun({ sandbox, ledger, policyDefaults: config.LEDGER_POLICY_DEFAULTS, templates: templates.catalog, cancelIndex: events.cancelIndex, ownerContext, selectPackage: packages.selectFor });
  const schedules = createScheduleSync({ client: temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, logger });
  const firings = createFiringStore(store);
  const records = createRecordStore(store);
  const paymentRequests = createPaymentRequests(store);
  const apiKeys = createApiKeyStore({ connection: store, config, logger });
  const runs = createRunReader({ client: temporal, namespace: config.TEMPORAL_NAMESPACE, temporalUiUrl: config.TEMPORAL_UI_URL });
  const { app, routes } = createApp({
    logger,
    resolveKey: chainResolvers(adminKeyResolver(config.ADMIN_API_KEY), apiKeys.resolve),
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    eventBodyLimitBytes: config.EVENT_BODY_LIMIT_BYTES,
    rateLimits: { ingestion: config.RATE_LIMIT_EVENTS_PER_MINUTE, script_test: config.RATE_LIMIT_SCRIPT_TESTS_PER_MINUTE },
    readinessChecks: [
      { name: 'store', check: () => pingStore(store) },
      { name: 'temporal', check: () => pingTemporal(temporal) },
    ],
    modules: [
      eventRoutes(events, store),
      triggerRoutes(triggers, checkers, dryRun, webhookSecrets, schedules, events.cancelIndex, records),
      firingRoutes({ triggers, firings, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE }),
      runRoutes(runs),
      scriptRoutes(sandbox, sandboxMaximums),
      templateRoutes(templates, triggers),
      accountRoutes({ ledger, statements: createStatements({ connection: store, ledger }), defaultUnit: config.DEFAULT_UNIT }),
      adjustmentRoutes({ ledger }),
      apiKeyRoutes(apiKeys),
      customerRoutes(customers),
      packageRoutes(packages),
      subscriptionRoutes(subscriptions),
      recordRoutes(records),
      paymentRequestRoutes(paymentRequests),
    ],
    ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
    ...(metrics ? { metrics } : {}),
  });
  return {
    app,
    routes,
    triggers,
    events,
    ledger,
    customers,
    packages,
    subscriptions,
    templates,
    apiKeys,
    webhookSecrets,
    schedules,
    records,
    async ensureIndexes(): Promise<void> {
      await Promise.all([triggers.ensureIndexes(), events.ensureIndexes(), templates.ensureIndexes(), ledger.ensureIndexes(), apiKeys.ensureIndexes(), webhookSecrets.ensureIndexes(), firings.ensureIndexes(), customers.ensureIndexes(), records.ensureIndexes(), paymentRequests.ensureIndexes(), packages.ensureIndexes(), subscriptions.ensureIndexes()]);
    },
  };
}
