// What an operator sees of runs without reading code: /metrics on the API
// and on the worker (its own port), the run and activity summaries in
// Temporal (`temporal workflow describe`), and the worker's log lines.
// The worker here is the production entry (engine/worker-main.ts) in its
// own process, configured by env only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freeLoopbackPort } from '../../engine/metrics-server';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { scrape, sampleValue } from '../support/prometheus';
import { openTestStore } from '../support/store';
import { purchaseEvent, topUpTrigger } from '../support/top-up';

const REPO_DIR = path.resolve(__dirname, '..', '..');
const taskQueue = `test-observability-${randomUUID()}`;
let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let client: Client;
let api: TestApi;
let worker: ChildProcess;
let workerMetricsUrl: string;
const workerLines: string[] = [];

beforeAll(async () => {
  store = await openTestStore('observability');
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  client = new Client({ connection });
  api = await startTestApi({ store: store.connection, temporal: client, taskQueue });
  const metricsPort = await freeLoopbackPort();
  workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  worker = await startWorkerEntry(metricsPort);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
  }
  await api?.close();
  await connection?.close();
  await store?.close();
});

/** `npm run start:worker` as production runs it, against this test's database and task queue. */
function startWorkerEntry(metricsPort: number): Promise<ChildProcess> {
  const storeUri = new URL(store.uri);
  storeUri.pathname = `/${store.dbName}`;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'engine', 'worker-main.ts')], {
    cwd: REPO_DIR,
    env: {
      ...process.env,
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      MONGODB_URI: storeUri.toString(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      METRICS_PORT: String(metricsPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  readline.createInterface({ input: child.stderr! }).on('line', (line) => workerLines.push(line));
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      workerLines.push(line);
      if (line.includes('"worker started"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the worker exited before it started (${code}):\n${workerLines.join('\n')}`)));
  });
}

async function createTrigger(body: unknown): Promise<string> {
  const response = await api.request('POST', '/v1/triggers', body);
  expect(response.status).toBe(201);
  return response.body.id;
}

async function send(event: unknown): Promise<{ status: number; workflowIds: string[] }> {
  const response = await api.request('POST', '/v1/events', event);
  return { status: response.status, workflowIds: (response.body?.runs ?? []).map((run: { workflowId: string }) => run.workflowId) };
}

async function closed(workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).result().catch(() => undefined);
}

/** Waits until the worker's sink has counted the closed runs (it reports after the workflow task completes). */
async function workerSamplesWhen(ready: (samples: Awaited<ReturnType<typeof scrape>>['samples']) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { samples } = await scrape(workerMetricsUrl);
    if (ready(samples) || Date.now() > deadline) return samples;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const execFileAsync = promisify(execFile);

/** `temporal <args> -o json` against the test server, parsed. */
async function temporalCli(args: string[]): Promise<unknown> {
  const binary = process.env.TEMPORAL_CLI_PATH;
  if (!binary) throw new Error('TEMPORAL_CLI_PATH is not set: run the tests through npm test, which provisions the Temporal CLI');
  const { stdout } = await execFileAsync(binary, [...args, '--address', process.env.TEMPORAL_ADDRESS!, '--namespace', 'default', '-o', 'json']);
  return JSON.parse(stdout);
}

/** User metadata in the CLI's JSON: decoded text (describe), or a payload of base64 JSON text (history events). */
function payloadText(payload: string | { data?: string } | undefined): string | undefined {
  if (typeof payload === 'string' || payload === undefined) return payload;
  return payload.data === undefined ? undefined : (JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as string);
}

describe('a run of the documented top-up, seen by an operator', () => {
  const resource = `top-up-${randomUUID()}`;
  let triggerId: string;
  let workflowId: string;
  let event: ReturnType<typeof purchaseEvent>;

  beforeAll(async () => {
    triggerId = await createTrigger(topUpTrigger(resource, 0));
    event = purchaseEvent(resource, 5000);
    const sent = await send(event);
    expect(sent.status).toBe(202);
    workflowId = sent.workflowIds[0]!;
    await closed(workflowId);
  });

  it('has a summary in Temporal naming the trigger, the customer and the event', async () => {
    const description = (await temporalCli(['workflow', 'describe', '--workflow-id', workflowId])) as { executionConfig?: { userMetadata?: { summary?: string; details?: string } } };
    const user = event.data.reservation.user.id;
    expect(payloadText(description.executionConfig?.userMetadata?.summary)).toBe(`Account top-up (${resource}) · ${user} · request.created ${event.id}`);
    expect(payloadText(description.executionConfig?.userMetadata?.details)).toContain(`\`${triggerId}\`, version 1`);
  });

  it('has a summary on each activity saying what it did', async () => {
    const history = (await temporalCli(['workflow', 'show', '--workflow-id', workflowId])) as { events: Array<{ eventType: string; userMetadata?: { summary?: { data?: string } } }> };
    const summaries = history.events
      .filter((entry) => entry.userMetadata?.summary)
      .map((entry) => payloadText(entry.userMetadata!.summary));
    const user = event.data.reservation.user;
    expect(summaries).toEqual(expect.arrayContaining([`credit 6000 USD to ${user.id}`, `email ${user.email} (account-credited)`]));
  });

  it('counts the event, the run and each task on /metrics of the API and the worker', async () => {
    const fromApi = await scrape(`${api.baseUrl}/metrics`);
    expect(fromApi.contentType).toContain('text/plain');
    expect(sampleValue(fromApi.samples, 'creditflow_events_received_total', { type: 'request.created', outcome: 'started' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fromApi.samples, 'creditflow_runs_started_total', { trigger_id: triggerId })).toBe(1);

    const fromWorker = await workerSamplesWhen((samples) => sampleValue(samples, 'creditflow_runs_closed_total', { trigger_id: triggerId, status: 'completed' }) === 1);
    expect(sampleValue(fromWorker, 'creditflow_runs_closed_total', { trigger_id: triggerId, status: 'completed' })).toBe(1);
    for (const taskType of ['script', 'account', 'email']) {
      expect(sampleValue(fromWorker, 'creditflow_task_duration_seconds_count', { task_type: taskType, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    }
    expect(sampleValue(fromWorker, 'creditflow_ledger_postings_total', { direction: 'credit', outcome: 'posted' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fromWorker, 'creditflow_sandbox_runs_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fromWorker, 'creditflow_sandbox_queue_wait_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(fromWorker, 'creditflow_emails_total', { outcome: 'sent' })).toBeGreaterThanOrEqual(1);
    // The Temporal SDK's own worker series are part of the same scrape.
    expect(fromWorker.some((sample) => sample.name.startsWith('temporal_') && sample.labels.task_queue === taskQueue)).toBe(true);
    expect(fromWorker.some((sample) => sample.name === 'process_cpu_seconds_total' && sample.labels.service === 'creditflow-worker')).toBe(true);
  });
});

describe('outcomes other than success on /metrics', () => {
  it('counts duplicates, events nothing listens to and refused events by outcome', async () => {
    const resource = `top-up-${randomUUID()}`;
    await createTrigger(topUpTrigger(resource, 0));
    const type = `probe${randomUUID().slice(0, 8)}.created`;
    const before = (await scrape(`${api.baseUrl}/metrics`)).samples;
    const event = purchaseEvent(resource, 5000);
    const first = await send(event);
    await send(event);
    await send({ ...purchaseEvent(resource, 5000), type });
    expect((await send({ id: `evt_${randomUUID()}`, type, data: 'not an object' })).status).toBe(422);
    const after = (await scrape(`${api.baseUrl}/metrics`)).samples;
    const delta = (labels: Record<string, string>) => sampleValue(after, 'creditflow_events_received_total', labels) - sampleValue(before, 'creditflow_events_received_total', labels);
    expect(delta({ type: 'request.created', outcome: 'duplicate' })).toBe(1);
    expect(delta({ type, outcome: 'no_match' })).toBe(1);
    expect(delta({ type, outcome: 'rejected' })).toBe(1);
    await closed(first.workflowIds[0]!);
  });

  it('counts a refused debit and a refused transfer by their code, the failed run, and a script timeout', async () => {
    const debitTrigger = await createTrigger({
      name: 'Debit without funds',
      on: { types: [`debit${randomUUID().slice(0, 8)}.created`] },
      wait: { seconds: 0 },
      tasks: [{ id: 'charge', type: 'account', action: 'debit', amount: 100, owner: '{{data.owner}}', createIfMissing: true, unit: 'USD' }],
    });
    const transferTrigger = await createTrigger({
      name: 'Transfer without funds',
      on: { types: [`move${randomUUID().slice(0, 8)}.created`] },
      wait: { seconds: 0 },
      tasks: [{ id: 'move', type: 'transfer', from: '{{data.owner}}', to: 'somebody_else', amount: 100, createIfMissing: true, unit: 'USD' }],
    });
    const slowTrigger = await createTrigger({
      name: 'Script that never ends',
      on: { types: [`slow${randomUUID().slice(0, 8)}.created`] },
      wait: { seconds: 0 },
      tasks: [{ id: 'spin', type: 'script', code: 'while (true) {}', timeoutMs: 50 }],
    });
    const triggers = (await api.request('GET', '/v1/triggers?limit=200')).body.items as Array<{ id: string; on: { types: string[] } }>;
    const typeOf = (id: string) => triggers.find((trigger) => trigger.id === id)!.on.types[0]!;
    const before = await scrape(workerMetricsUrl);
    const debit = await send({ id: `evt_${randomUUID()}`, type: typeOf(debitTrigger), data: { owner: `user_${randomUUID().slice(0, 8)}` } });
    const slow = await send({ id: `evt_${randomUUID()}`, type: typeOf(slowTrigger), data: {} });
    const move = await send({ id: `evt_${randomUUID()}`, type: typeOf(transferTrigger), data: { owner: `user_${randomUUID().slice(0, 8)}` } });
    await Promise.all([closed(debit.workflowIds[0]!), closed(slow.workflowIds[0]!), closed(move.workflowIds[0]!)]);

    const after = await workerSamplesWhen((samples) => sampleValue(samples, 'creditflow_runs_closed_total', { trigger_id: slowTrigger, status: 'failed' }) === 1 && sampleValue(samples, 'creditflow_runs_closed_total', { trigger_id: debitTrigger, status: 'failed' }) === 1);
    expect(sampleValue(after, 'creditflow_runs_closed_total', { trigger_id: debitTrigger, status: 'failed' })).toBe(1);
    expect(sampleValue(after, 'creditflow_runs_closed_total', { trigger_id: slowTrigger, status: 'failed' })).toBe(1);
    const refusals = (samples: typeof after) => sampleValue(samples, 'creditflow_ledger_postings_total', { direction: 'debit', outcome: 'insufficient_funds' });
    expect(refusals(after) - refusals(before.samples)).toBeGreaterThanOrEqual(1);
    const transferRefusals = (samples: typeof after) => sampleValue(samples, 'creditflow_ledger_postings_total', { direction: 'transfer', outcome: 'insufficient_funds' });
    expect(transferRefusals(after) - transferRefusals(before.samples)).toBe(1);
    const timeouts = (samples: typeof after) => sampleValue(samples, 'creditflow_sandbox_runs_total', { outcome: 'timeout' });
    expect(timeouts(after) - timeouts(before.samples)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'creditflow_task_duration_seconds_count', { task_type: 'account', outcome: 'error' })).toBeGreaterThanOrEqual(1);
  });
});

describe('the worker log', () => {
  it('is one JSON line per entry, with the workflow bundle reported in one line and no webpack report', () => {
    const stdout = workerLines.filter((line) => line.startsWith('{'));
    expect(stdout.some((line) => JSON.parse(line).msg === 'workflow bundle built')).toBe(true);
    expect(workerLines.filter((line) => !line.startsWith('{'))).toEqual([]);
    expect(workerLines.join('\n')).not.toMatch(/modules by path|webpack \d+\.\d+\.\d+ compiled/);
  });
});
