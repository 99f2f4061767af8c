import pino from 'pino';
import type { Connection } from 'mongoose';
import { createActivities } from '../../activities';
import { BalancePump } from '../../engine/events/balance-pump';
import { groupPolicyLayer } from '../../engine/customers';
import { createOwnerContextLoader, type OwnerContextLoader } from '../../engine/customers/run-context';
import { createEventIngestor } from '../../engine/events/ingest';
import { createLedger, type Ledger } from '../../engine/ledger';
import { createSmtpMailer } from '../../engine/mail/mailer';
import { createTemplateStore } from '../../engine/mail/template-store';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../../engine/mail/templates';
import { createTriggerStore } from '../../engine/triggers/trigger-store';
import { createWebhookSecrets } from '../../engine/triggers/webhook-secrets';
import { createWebhookSender } from '../../engine/webhooks';
import { httpGateways, type GatewayConfig } from '../../engine/payments/gateway';
import { createSandbox } from '../../scripts-sandbox';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from './api';
import { firingDependencies } from './firings';
import { openTestStore, type CommandLog } from './store';
import { startTestWorker, type TestWorker } from './temporal';

/** A run as GET /v1/runs/{id} shows it; tests assert on its shape field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RunView = Record<string, any>;

/** A real API and worker on the test stack, with the helpers task tests share. */
export interface EngineHarness {
  api: TestApi;
  worker: TestWorker;
  ledger: Ledger;
  /** The test database the API, the worker and the ledger share. */
  connection: Connection;
  /** What the API, the worker and the ledger sent to the store, when started with `recordCommands`. */
  commands: CommandLog;
  /** The balance pump beside the worker, when started with `balanceEvents`. */
  balancePump?: BalancePump;
  /** Creates a trigger; fails the test unless it is 201. Returns its id. */
  createTrigger(body: unknown): Promise<string>;
  /** Posts an event and waits until every run it started has closed; returns the runs as GET /v1/runs/{id} shows them. */
  sendAndSettle(event: unknown): Promise<{ status: number; body: Record<string, unknown>; runs: RunView[] }>;
  /** GET /v1/runs/{workflowId} once the run has closed. */
  settledRun(workflowId: string): Promise<RunView>;
  balanceOf(ownerId: string, unit?: string): Promise<number | null>;
  close(): Promise<void>;
}

/**
 * The harness on a fresh test database. With `webhooksTo`, the worker sends
 * webhooks to those hosts (the dev stack allows 127.0.0.1) and signs them
 * with the triggers' secrets, which the API seals under ADMIN_API_KEY when
 * API_KEY_PEPPER is unset. With `balanceEvents`, a balance pump runs beside
 * the worker as in engine/worker-main.ts (polling every
 * `balancePollMs`, default 200, and at once after the worker's postings).
 * With `gateways`, payment_request tasks submit to those gateways (loopback
 * allowed).
 */
export async function startEngineHarness(label: string, options: { webhooksTo?: string[]; balanceEvents?: boolean; balancePollMs?: number; gateways?: GatewayConfig; recordCommands?: boolean } = {}): Promise<EngineHarness> {
  const store = await openTestStore(label, { recordCommands: options.recordCommands === true });
  let balancePump: BalancePump | undefined;
  // As the worker does: the customer group is the middle layer of each account's policy.
  const ledger = createLedger({ connection: store.connection, policyLayer: groupPolicyLayer(store.connection), onEntryInserted: (entry, markId) => balancePump?.wake(entry, markId) });
  await ledger.ensureIndexes();
  const sandbox = createSandbox();
  const mailer = createSmtpMailer(process.env.SMTP_URL ?? '', 'Creditflow <no-reply@creditflow.test>');
  const secrets = createWebhookSecrets({ connection: store.connection, pepper: TEST_ADMIN_KEY });
  const webhooks = options.webhooksTo
    ? { webhooks: createWebhookSender({ allowedHosts: options.webhooksTo }), webhookSecret: (triggerId: string) => secrets.current(triggerId) }
    : {};
  // Gateways on this machine (the tests' stubs) are called as the dev stack calls them: loopback allowed.
  const gateways = options.gateways ? { gateways: httpGateways(options.gateways, createWebhookSender({ allowedHosts: ['127.0.0.1'] })) } : {};
  const scheduling = await firingDependencies(store.connection, ledger);
  // As engine/worker-main.ts does: emails of runs that went without their owner context read it when their template names it.
  // Built once the API is up (its configuration's default unit).
  const workerOwner: { load?: OwnerContextLoader } = {};
  const worker = await startTestWorker(createActivities({ connection: store.connection, sandbox, ledger, mailer, templates: createTemplateStore(store.connection, fileTemplateCatalog(BUNDLED_TEMPLATES_DIR)).catalog, ownerContext: async (event, account) => workerOwner.load!(event, account), ...webhooks, ...gateways, firings: scheduling.firings }), scheduling.taskQueue);
  // The API checks webhook addresses at save against the same allowed hosts the worker sends to.
  const env = {
    ...(options.webhooksTo ? { WEBHOOK_ALLOWED_HOSTS: options.webhooksTo.join(',') } : {}),
    // The API checks payment_request gateways at save against the same names the worker submits to.
    ...(options.gateways ? { PAYMENT_GATEWAYS: JSON.stringify(options.gateways) } : {}),
  };
  const api = await startTestApi({ store: store.connection, temporal: worker.client, taskQueue: worker.taskQueue, ...(Object.keys(env).length > 0 ? { env } : {}) });
  workerOwner.load = createOwnerContextLoader({ profileOf: api.api.customers.profileOf, ledger, defaultUnit: api.config.DEFAULT_UNIT });
  if (options.balanceEvents) {
    const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    // As the API does: runs of balance events see the owner's customer profile.
    const ownerContext = createOwnerContextLoader({ profileOf: api.api.customers.profileOf, ledger, defaultUnit: api.config.DEFAULT_UNIT });
    const ingestor = createEventIngestor({ connection: store.connection, triggers: createTriggerStore(store.connection), temporal: worker.client, taskQueue: worker.taskQueue, logger, ownerContext });
    balancePump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, routingOf: ingestor.routingOf, logger, pollIntervalMs: options.balancePollMs ?? 200 });
    balancePump.start();
  }

  async function settledRun(workflowId: string): Promise<RunView> {
    await worker.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    return (await api.request('GET', `/v1/runs/${encodeURIComponent(workflowId)}`)).body;
  }

  return {
    api,
    worker,
    ledger,
    connection: store.connection,
    commands: store.commands,
    ...(balancePump ? { balancePump } : {}),
    async createTrigger(body) {
      const response = await api.request('POST', '/v1/triggers', body);
      if (response.status !== 201) throw new Error(`creating the trigger answered ${response.status}: ${JSON.stringify(response.body)}`);
      return response.body.id;
    },
    async sendAndSettle(event) {
      const response = await api.request('POST', '/v1/events', event);
      const runs = await Promise.all(((response.body?.runs ?? []) as Array<{ workflowId: string }>).map((run) => settledRun(run.workflowId)));
      return { status: response.status, body: response.body, runs };
    },
    settledRun,
    async balanceOf(ownerId, unit = 'USD') {
      return (await ledger.getAccount(ownerId, unit))?.balance ?? null;
    },
    async close() {
      await balancePump?.stop();
      await api.close();
      await worker.stop();
      await scheduling.close();
      sandbox.dispose();
      mailer.close();
      await store.close();
    },
  };
}
