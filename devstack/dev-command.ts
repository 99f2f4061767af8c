import fs from 'node:fs';
import path from 'node:path';
import { devAdminKey } from './admin-key';
import { parseDevEnv, type DevEnv } from './dev-env';
import { DevstackError } from './devstack-error';
import { devLogFormatter } from './log-format';
import { startLocalServices, type ServicePlan } from './local-services';
import { ManagedChild } from './managed-child';
import { dataDir as resolveDataDir, REPO_DIR } from './paths';
import { assertPortsFree, LOOPBACK, type NamedPort } from './ports';
import { say } from './say';
import { ferretDbDataDir, ferretDbUri, SERVICE_STOP_GRACE_MS } from './services';
import { Layer, Supervisor } from './supervisor';
import { answersHttp, waitUntilReady } from './wait-ready';
import { DEMO_WAIT_SECONDS, demoCurl, seedDemoTrigger } from './demo-seed';
import { DEV_CARD_GATEWAY } from './payment-gateway-stub';

/** The two processes the dev stack runs on top of the services. */
const APP_ENTRIES = { api: 'admin-api/main.ts', worker: 'engine/worker-main.ts' } as const;

/** The API is ready once it reaches the store and Temporal; the first start also compiles TypeScript. */
const API_READY_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 2_000;

/** The addresses the API and worker get, whether local or given by env. */
interface Endpoints {
  readonly mongodbUri: string;
  readonly temporalAddress: string;
  readonly temporalUiUrl?: string;
  readonly smtpUrl: string;
  readonly maildevUiUrl?: string;
}

/**
 * `npm run dev`: starts the services not given by env, then the API and a
 * worker, prints every URL once the API is ready, and stops everything on
 * Ctrl-C, SIGTERM, SIGHUP, or when any part dies. Resolves with the exit code.
 */
export async function runDev(): Promise<number> {
  const env = parseDevEnv(process.env);
  for (const entry of Object.values(APP_ENTRIES)) assertEntryExists(entry);
  const plan = servicePlan(env);
  await assertPortsFree(portsToCheck(env, plan));
  const dataDir = resolveDataDir();
  fs.mkdirSync(dataDir, { recursive: true });
  const adminKey = env.ADMIN_API_KEY ? { key: env.ADMIN_API_KEY, file: undefined } : devAdminKey(dataDir);
  const supervisor = new Supervisor(SERVICE_STOP_GRACE_MS);
  supervisor.stopOnSignals();
  try {
    await startStack(env, plan, dataDir, adminKey, supervisor);
  } catch (error) {
    // A signal or a dying child already started the stop and said why.
    if (supervisor.isStopping) return supervisor.done;
    await supervisor.stop(1);
    throw error;
  }
  return supervisor.done;
}

/** The admin key and, when generated for dev, the file it is kept in. */
interface AdminKey {
  readonly key: string;
  readonly file?: string;
}

async function startStack(env: DevEnv, plan: ServicePlan, dataDir: string, adminKey: AdminKey, supervisor: Supervisor): Promise<void> {
  const local = [plan.ferretdb && 'FerretDB', plan.temporal && 'Temporal', plan.maildev && 'MailDev'].filter(Boolean);
  if (local.length > 0) say(`starting ${local.join(', ')} (data in ${dataDir})`);
  const services = await startLocalServices(plan, dataDir, { echo: true, reaper: supervisor.reaper });
  if (supervisor.isStopping) {
    // A signal came while they were starting; the supervisor did not know them yet.
    await Promise.all(services.map((child) => child.stop(SERVICE_STOP_GRACE_MS)));
    return;
  }
  for (const child of services) supervisor.add(child, Layer.Service);
  const endpoints = endpointsFor(env, plan, dataDir);
  const childEnv = appEnv(env, endpoints, adminKey.key);
  say('starting the API and a worker');
  const api = startApp('api', APP_ENTRIES.api, childEnv, supervisor);
  startApp('worker', APP_ENTRIES.worker, childEnv, supervisor);
  const apiUrl = `http://${LOOPBACK}:${env.PORT}`;
  await waitUntilReady(api, { what: `the API at ${apiUrl}/readyz`, probe: () => answersHttp(`${apiUrl}/readyz`, 200, PROBE_TIMEOUT_MS), timeoutMs: API_READY_TIMEOUT_MS });
  if (supervisor.isStopping) return;
  printBanner(apiUrl, `http://${LOOPBACK}:${env.METRICS_PORT}/metrics`, endpoints, adminKey, dataDir);
  await offerDemo(apiUrl, adminKey.key);
}

/** Seeds the documented trigger on an empty database and prints a curl that feeds it. */
async function offerDemo(apiUrl: string, adminKey: string): Promise<void> {
  try {
    const triggerId = await seedDemoTrigger(apiUrl, adminKey);
    if (!triggerId) return;
    process.stdout.write(`The documented top-up trigger is installed (${triggerId}, a ${DEMO_WAIT_SECONDS} s cancellation window). Try it:\n\n  ${demoCurl(apiUrl, adminKey)}\n\nor play a booking system with: npm run demo\n\n`);
  } catch (error) {
    say(`could not install the demo trigger: ${(error as Error).message}`);
  }
}

function servicePlan(env: DevEnv): ServicePlan {
  return {
    ferretdb: env.MONGODB_URI ? undefined : { port: env.FERRETDB_PORT },
    temporal: env.TEMPORAL_ADDRESS ? undefined : { port: env.TEMPORAL_PORT, uiPort: env.TEMPORAL_UI_PORT, persist: true },
    maildev: env.SMTP_URL ? undefined : { smtpPort: env.SMTP_PORT, webPort: env.MAILDEV_UI_PORT, persist: true },
  };
}

function portsToCheck(env: DevEnv, plan: ServicePlan): NamedPort[] {
  const ports: NamedPort[] = [{ port: env.PORT, label: 'API' }, { port: env.METRICS_PORT, label: 'worker metrics' }];
  if (plan.ferretdb) ports.push({ port: plan.ferretdb.port, label: 'FerretDB' });
  if (plan.temporal) ports.push({ port: plan.temporal.port, label: 'Temporal' }, { port: env.TEMPORAL_UI_PORT, label: 'Temporal UI' });
  if (plan.maildev) ports.push({ port: plan.maildev.smtpPort, label: 'MailDev SMTP' }, { port: plan.maildev.webPort, label: 'MailDev UI' });
  return ports;
}

function endpointsFor(env: DevEnv, plan: ServicePlan, dataDir: string): Endpoints {
  return {
    mongodbUri: env.MONGODB_URI ?? ferretDbUri(ferretDbDataDir(dataDir), env.FERRETDB_PORT, 'creditflow'),
    temporalAddress: env.TEMPORAL_ADDRESS ?? `${LOOPBACK}:${env.TEMPORAL_PORT}`,
    temporalUiUrl: env.TEMPORAL_UI_URL ?? (plan.temporal ? `http://${LOOPBACK}:${env.TEMPORAL_UI_PORT}` : undefined),
    smtpUrl: env.SMTP_URL ?? `smtp://${LOOPBACK}:${env.SMTP_PORT}`,
    maildevUiUrl: plan.maildev ? `http://${LOOPBACK}:${env.MAILDEV_UI_PORT}` : undefined,
  };
}

function appEnv(env: DevEnv, endpoints: Endpoints, adminKey: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: String(env.PORT),
    METRICS_PORT: String(env.METRICS_PORT),
    MONGODB_URI: endpoints.mongodbUri,
    TEMPORAL_ADDRESS: endpoints.temporalAddress,
    SMTP_URL: endpoints.smtpUrl,
    ADMIN_API_KEY: adminKey,
    // The demo's webhook receiver listens on this machine, which the address guard refuses unless listed.
    WEBHOOK_ALLOWED_HOSTS: process.env.WEBHOOK_ALLOWED_HOSTS || '127.0.0.1,localhost',
    // Gateway "card" is the demo's stub (npm run demo -- bill-run) unless you give your own.
    PAYMENT_GATEWAYS: process.env.PAYMENT_GATEWAYS || JSON.stringify({ card: DEV_CARD_GATEWAY }),
    ...(endpoints.temporalUiUrl ? { TEMPORAL_UI_URL: endpoints.temporalUiUrl } : {}),
  };
}

function assertEntryExists(entry: string): void {
  if (!fs.existsSync(path.join(REPO_DIR, entry))) throw new DevstackError('usage', `${entry} is missing, so the dev stack cannot start it`);
}

function startApp(name: string, entry: string, env: NodeJS.ProcessEnv, supervisor: Supervisor): ManagedChild {
  const args = ['--import', 'tsx', path.join(REPO_DIR, entry)];
  const format = devLogFormatter(Boolean(process.stdout.isTTY));
  const child = new ManagedChild({ name, command: process.execPath, args, cwd: REPO_DIR, env, echo: true, format }, supervisor.reaper);
  supervisor.add(child, Layer.App);
  return child;
}

function printBanner(apiUrl: string, workerMetricsUrl: string, endpoints: Endpoints, adminKey: AdminKey, dataDir: string): void {
  const rows = [
    ['API', apiUrl],
    ['Swagger docs', `${apiUrl}/docs`],
    ['Metrics', `${apiUrl}/metrics (API), ${workerMetricsUrl} (worker)`],
    ['Temporal UI', endpoints.temporalUiUrl ?? 'not known: set TEMPORAL_UI_URL'],
    ['MailDev UI', endpoints.maildevUiUrl ?? `none: mail goes to ${endpoints.smtpUrl}`],
    ['Admin key', adminKey.file ? `${adminKey.key} (kept in ${adminKey.file})` : `${adminKey.key} (from ADMIN_API_KEY)`],
    ['Data', dataDir],
  ];
  const lines = rows.map(([label, value]) => `  ${label!.padEnd(13)}${value}`);
  process.stdout.write(`\nCreditflow is running:\n${lines.join('\n')}\n\nPress Ctrl-C to stop.\n\n`);
}
