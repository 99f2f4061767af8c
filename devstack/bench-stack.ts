// The stack the end-to-end benchmarks measure (bench:e2e, bench:examples):
// a real Temporal dev server, FerretDB and MailDev, with the API over HTTP
// and one worker in this process, set up as engine/worker-main.ts and
// admin-api/main.ts set them up (scripts at most one per sandbox process,
// the ledger with its group policy layer, the balance pump turning every
// posting into an account.balance_changed event, webhooks signed with the
// triggers' secrets). The worker also hosts the baseline: a bare workflow
// with three no-op activities (devstack/bench-workflows.ts). Plus the
// helpers both benchmarks time their phases with.
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Connection as MongooseConnection } from 'mongoose';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildApi } from '../admin-api/server';
import { loadConfig, type Config } from '../engine/config';
import { createCustomerDirectory, groupPolicyLayer } from '../engine/customers';
import { createOwnerContextLoader } from '../engine/customers/run-context';
import { BalancePump } from '../engine/events/balance-pump';
import { createEventIngestor } from '../engine/events/ingest';
import { createLedger } from '../engine/ledger';
import { createSmtpMailer } from '../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../engine/mail/templates';
import { pepperOf } from '../engine/secret-seal';
import { connectStore } from '../engine/store';
import { createTriggerStore } from '../engine/triggers/trigger-store';
import { createWebhookSecrets } from '../engine/triggers/webhook-secrets';
import { createWebhookSender } from '../engine/webhooks';
import { capWorkflowThreadYoungGeneration, localActivitySlots, runSinks, WORKFLOW_BUNDLER_OPTIONS } from '../engine/worker';
import { createSandbox } from '../scripts-sandbox';
import { apiClient, type ApiClient } from './api-client';
import { cpuByProcess, cpuByThread, cpuSpent } from './process-cpu';
import { startTestStack, type TestStack } from './test-stack';

export const BENCH_TASK_QUEUE = 'bench';
export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789';

export interface BenchStack {
  config: Config;
  store: MongooseConnection;
  /** A Temporal client of its own (the bench's side: baseline starts, run results). */
  client: Client;
  /** The API at `apiUrl`, with the admin key. */
  http: ApiClient;
  apiUrl: string;
  /**
   * Resolves once every posting so far has had its account.balance_changed
   * handed over by the balance pump (no balance mark left). A phase of runs
   * that post awaits it, so the pump's work after their last run counts
   * in that phase, not in the next one.
   */
  balanceEventsDelivered(): Promise<void>;
  stop(): Promise<void>;
}

/** How often balanceEventsDelivered looks at the marks, and for how long at most. */
const DELIVERY_POLL_MS = 5;
const DELIVERY_TIMEOUT_MS = 60_000;

export interface BenchStackOptions {
  /** Lets the driver report every command to listeners on `store.getClient()` (BENCH_PROFILE_STORE). */
  monitorCommands?: boolean;
  /** WEBHOOK_ALLOWED_HOSTS, for webhook receivers on this machine. */
  webhookAllowedHosts?: string;
}

/**
 * The services a benchmark's stack runs on (Temporal dev server, FerretDB,
 * MailDev), with the SDK's runtime logging warnings only. `stop` undoes the
 * steps put at the front of `stopAll`, newest first, then the services.
 */
export async function startBenchServices(): Promise<{ stack: TestStack; stopAll: Array<() => Promise<unknown>>; stop: () => Promise<void> }> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await startTestStack({});
  const stopAll: Array<() => Promise<unknown>> = [() => stack.stop()];
  const stop = async () => {
    for (const step of stopAll) await step().catch(() => undefined);
  };
  return { stack, stopAll, stop };
}

export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const { stack, stopAll, stop } = await startBenchServices();
  try {
    // The rate limit of events per API key (600 a minute by default) would answer 429 to rounds of a few hundred runs.
    const config = loadConfig({
      ADMIN_API_KEY: BENCH_ADMIN_KEY, TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: BENCH_TASK_QUEUE, LOG_LEVEL: 'silent', RATE_LIMIT_EVENTS_PER_MINUTE: '1000000',
      ...(options.webhookAllowedHosts ? { WEBHOOK_ALLOWED_HOSTS: options.webhookAllowedHosts } : {}),
    });
    const store = await connectStore(stack.env.MONGODB_URI, { dbName: 'bench', monitorCommands: options.monitorCommands === true });
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const sandbox = createSandbox({ processes: config.SCRIPT_SANDBOX_PROCESSES });
    const pumpWake: Pick<BalancePump, 'wake'> = { wake: () => undefined };
    const ledger = createLedger({ connection: store, policyLayer: groupPolicyLayer(store), onEntryInserted: (entry, markId) => pumpWake.wake(entry, markId) });
    await ledger.ensureIndexes();
    const mailer = createSmtpMailer(stack.env.SMTP_URL, 'bench@creditflow.local');
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./bench-workflows'), ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') });
    const ownerContext = createOwnerContextLoader({ profileOf: createCustomerDirectory({ connection: store, ledger }).profileOf, ledger, defaultUnit: config.DEFAULT_UNIT });
    const webhookSecrets = createWebhookSecrets({ connection: store, pepper: pepperOf(config) });
    const activities = {
      ...createActivities({
        connection: store, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), ownerContext,
        webhooks: createWebhookSender({ allowedHosts: config.WEBHOOK_ALLOWED_HOSTS }), webhookSecret: (triggerId) => webhookSecrets.current(triggerId),
      }),
      noop: async () => undefined,
    };
    capWorkflowThreadYoungGeneration();
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS }), taskQueue: BENCH_TASK_QUEUE, workflowBundle: { code }, activities, sinks: runSinks(undefined),
      maxConcurrentLocalActivityExecutions: localActivitySlots(config.SCRIPT_SANDBOX_PROCESSES),
    });
    const running = worker.run();
    const logger = pino({ level: 'warn' });
    const ingestor = createEventIngestor({ connection: store, triggers: createTriggerStore(store), temporal: client, taskQueue: BENCH_TASK_QUEUE, logger, ownerContext });
    const pump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, routingOf: ingestor.routingOf, logger, pollIntervalMs: config.BALANCE_EVENTS_POLL_MS });
    pumpWake.wake = (entry, markId) => pump.wake(entry, markId);
    pump.start();
    stopAll.unshift(async () => { await pump.stop(); worker.shutdown(); await running; sandbox.dispose(); mailer.close(); await store.close(); await connection.close(); });

    const api = buildApi({ config, logger: pino({ level: 'silent' }), store, temporal: client, sandbox });
    await api.ensureIndexes();
    const server = api.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    stopAll.unshift(async () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const balanceEventsDelivered = async () => {
      const deadline = performance.now() + DELIVERY_TIMEOUT_MS;
      while ((await ledger.balanceChanges.readMarks(null, 1)).length > 0) {
        if (performance.now() > deadline) throw new Error(`balance marks still pending after ${DELIVERY_TIMEOUT_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, DELIVERY_POLL_MS));
      }
    };
    return { config, store, client, http: apiClient(apiUrl, BENCH_ADMIN_KEY), apiUrl, balanceEventsDelivered, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One baseline run: the bare workflow with three no-op activities, start to result; its latency in ms. */
export async function baselineRun(client: Client, workflowId: string): Promise<number> {
  const started = performance.now();
  await client.workflow.execute('baselineRun', { taskQueue: BENCH_TASK_QUEUE, workflowId });
  return performance.now() - started;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Every job's latency, sorted, and the phase's wall time. */
export type Phase = { latenciesMs: number[]; wallMs: number };

/**
 * Runs `count` jobs with at most `concurrency` in flight; returns each job's
 * latency and the wall time, which runs until `settled` (work the jobs left
 * behind them) resolves too.
 */
export async function drive(count: number, concurrency: number, job: (i: number) => Promise<number>, settled?: () => Promise<void>): Promise<Phase> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) latenciesMs.push(await job(next++));
  }));
  await settled?.();
  return { latenciesMs: latenciesMs.sort((a, b) => a - b), wallMs: performance.now() - started };
}

/** Phases of one kind across rounds: every run's latency, and the summed wall time. */
export function combine(phases: Phase[]): Phase {
  return { latenciesMs: phases.flatMap((phase) => phase.latenciesMs).sort((a, b) => a - b), wallMs: phases.reduce((total, phase) => total + phase.wallMs, 0) };
}

export const rateOf = (phase: Phase) => (phase.latenciesMs.length / phase.wallMs) * 1000;

export interface PhaseFigures {
  runsPerS: number;
  p50Ms: number;
  p99Ms: number;
}

/** Prints one line of figures for a kind of run and returns them. */
export function report(name: string, result: Phase): PhaseFigures {
  const figures = { runsPerS: rateOf(result), p50Ms: percentile(result.latenciesMs, 50), p99Ms: percentile(result.latenciesMs, 99) };
  console.log(`${name.padEnd(44)} ${figures.runsPerS.toFixed(1).padStart(7)} runs/s   p50 ${figures.p50Ms.toFixed(0).padStart(5)} ms   p99 ${figures.p99Ms.toFixed(0).padStart(5)} ms`);
  return figures;
}

/** CPU milliseconds spent by each process (this one, Temporal, FerretDB, MailDev, the sandbox) and by each thread of this one, summed by phase kind. */
export class CpuTally {
  private readonly byKind = new Map<string, { processes: Map<string, number>; threads: Map<string, number> }>();

  /** Runs `phase` and adds what each process and each thread of this one spent during it under `kind`. */
  async counted<T>(kind: string, phase: () => Promise<T>): Promise<T> {
    const [processesBefore, threadsBefore] = [cpuByProcess(), cpuByThread()];
    const result = await phase();
    const totals = this.byKind.get(kind) ?? { processes: new Map<string, number>(), threads: new Map<string, number>() };
    const add = (into: Map<string, number>, rows: Array<{ name: string; msPer: number }>) => {
      for (const { name, msPer } of rows) into.set(name, (into.get(name) ?? 0) + msPer);
    };
    add(totals.processes, cpuSpent(processesBefore, cpuByProcess(), 1));
    add(totals.threads, cpuSpent(threadsBefore, cpuByThread(), 1));
    this.byKind.set(kind, totals);
    return result;
  }

  /** Milliseconds per run of `kind` over `runs` runs: all processes together, and by process. */
  perRun(kind: string, runs: number): { total: number; processes: Array<[string, number]>; threads: Array<[string, number]> } {
    const totals = this.byKind.get(kind) ?? { processes: new Map<string, number>(), threads: new Map<string, number>() };
    const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).map(([name, ms]): [string, number] => [name, ms / runs]);
    return { total: [...totals.processes.values()].reduce((a, b) => a + b, 0) / runs, processes: sorted(totals.processes), threads: sorted(totals.threads) };
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }
}

/**
 * Times every store command the API and the worker send while a label is
 * set, by label and by command and collection (BENCH_PROFILE_STORE; the
 * stack must be started with `monitorCommands`).
 */
export class StoreProfile {
  private readonly sent = new Map<number, { label: string; key: string; at: number }>();
  private readonly byLabel = new Map<string, Map<string, number[]>>();
  private current: string | undefined;

  constructor(store: MongooseConnection) {
    const client = store.getClient();
    client.on('commandStarted', (event) => {
      if (this.current === undefined) return;
      const target = (event.command as Record<string, unknown>)[event.commandName];
      this.sent.set(event.requestId, { label: this.current, key: `${event.commandName} ${typeof target === 'string' ? target : ''}`.trim(), at: performance.now() });
    });
    const done = (event: { requestId: number }) => {
      const started = this.sent.get(event.requestId);
      if (!started) return;
      this.sent.delete(event.requestId);
      const byKey = this.byLabel.get(started.label) ?? new Map<string, number[]>();
      byKey.set(started.key, [...(byKey.get(started.key) ?? []), performance.now() - started.at]);
      this.byLabel.set(started.label, byKey);
    };
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }

  /** Commands sent from now on count under `label` (until the next label). */
  label(label: string | undefined): void {
    this.current = label;
  }

  /** One line per command and collection under `label`, the costliest first: count (per run, given `runs`), total and p50 time. */
  print(label: string, runs?: number): void {
    const byKey = this.byLabel.get(label) ?? new Map<string, number[]>();
    const rows = [...byKey].map(([key, ms]) => ({ key, count: ms.length, total: ms.reduce((a, b) => a + b, 0), p50: percentile([...ms].sort((a, b) => a - b), 50) }));
    for (const row of rows.sort((a, b) => b.total - a.total)) {
      const perRun = runs ? ` (${(row.count / runs).toFixed(2)} per run)` : '';
      console.log(`  ${row.key.padEnd(36)} ${String(row.count).padStart(6)}x${perRun}   total ${row.total.toFixed(0).padStart(6)} ms   p50 ${row.p50.toFixed(1).padStart(6)} ms`);
    }
  }
}
