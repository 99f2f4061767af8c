// `npm run bench:e2e [events] [concurrency] [rounds]`: drives events with a
// zero wait through a real stack (Temporal dev server, FerretDB, MailDev, the
// API over HTTP and one worker) and prints runs/s and POST-to-ledger-entry
// latency, beside a baseline measured in the same run on the same server and
// worker: a bare workflow with three no-op activities. The two alternate in
// rounds (A B, then B A, ...), so a machine whose speed drifts during the run
// moves both alike and the ratio stays meaningful. The worker is set up as
// engine/worker-main.ts sets it up: scripts at most one per sandbox process,
// the ledger with its group policy layer, and the balance pump turning every
// posting into an account.balance_changed event. The last stdout line is the
// BENCH_RESULT line `npm run bench` reads.
import { capWorkflowThreadYoungGeneration, localActivitySlots, runSinks, WORKFLOW_BUNDLER_OPTIONS } from '../engine/worker';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Connection as MongooseConnection } from 'mongoose';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildApi } from '../admin-api/server';
import { loadConfig } from '../engine/config';
import { createCustomerDirectory, groupPolicyLayer } from '../engine/customers';
import { createOwnerContextLoader } from '../engine/customers/run-context';
import { BalancePump } from '../engine/events/balance-pump';
import { createEventIngestor } from '../engine/events/ingest';
import { createLedger } from '../engine/ledger';
import { createSmtpMailer } from '../engine/mail/mailer';
import { BUNDLED_TEMPLATES_DIR, fileTemplateCatalog } from '../engine/mail/templates';
import { connectStore } from '../engine/store';
import { documentedTopUpTrigger, topUpEvent } from '../engine/triggers/documented-top-up';
import { createTriggerStore } from '../engine/triggers/trigger-store';
import { createSandbox } from '../scripts-sandbox';
import type { triggerRun } from '../workflows';
import { apiClient } from './api-client';
import { E2E_MIN_THROUGHPUT_RATIO } from './bench-goals';
import { printBenchResult } from './bench-result';
import { cpuByProcess, cpuByThread, cpuSpent } from './process-cpu';
import { startTestStack } from './test-stack';

const EVENTS = Number(process.argv[2] ?? 200);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const ROUNDS = Number(process.argv[4] ?? 4);
/** Top-ups sent one at a time after the rounds, for the latency goals (BENCH_SERIAL_EVENTS). */
const SERIAL_EVENTS = Number(process.env.BENCH_SERIAL_EVENTS ?? 50);
const TASK_QUEUE = 'bench';
const ADMIN_KEY = 'bench-admin-key-0123456789';
/** BENCH_PROFILE_STORE=1 prints the store commands of the measured rounds by collection (the baseline sends none): count, total and p50 time. */
const PROFILE_STORE = process.env.BENCH_PROFILE_STORE === '1';
/** BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of this process's main thread (API, activities, driver) for each measured phase: baseline-<round>.cpuprofile and top-up-<round>.cpuprofile. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
/** CPU milliseconds spent by each process (this one, Temporal, FerretDB, MailDev, the sandbox) and by each thread of this one, summed by phase kind over the rounds. */
const cpuPerPhase = new Map<string, { processes: Map<string, number>; threads: Map<string, number> }>();

/** Runs `phase` and adds what each process and each thread of this one spent during it to `cpuPerPhase` under `kind`. */
async function counted<T>(kind: string, phase: () => Promise<T>): Promise<T> {
  const [processesBefore, threadsBefore] = [cpuByProcess(), cpuByThread()];
  const result = await phase();
  const totals = cpuPerPhase.get(kind) ?? { processes: new Map<string, number>(), threads: new Map<string, number>() };
  const add = (into: Map<string, number>, rows: Array<{ name: string; msPer: number }>) => {
    for (const { name, msPer } of rows) into.set(name, (into.get(name) ?? 0) + msPer);
  };
  add(totals.processes, cpuSpent(processesBefore, cpuByProcess(), 1));
  add(totals.threads, cpuSpent(threadsBefore, cpuByThread(), 1));
  cpuPerPhase.set(kind, totals);
  return result;
}

/** Runs `phase` under the V8 CPU profiler when BENCH_CPU_PROFILE is set, writing `<dir>/<name>.cpuprofile`. */
async function profiled<T>(name: string, phase: () => Promise<T>): Promise<T> {
  if (!CPU_PROFILE_DIR) return phase();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await mkdir(CPU_PROFILE_DIR, { recursive: true });
    await writeFile(join(CPU_PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** Times every store command the API and the worker send, from the moment `start` is called. */
function profileStore(store: MongooseConnection): { start: () => void; print: () => void } {
  const sent = new Map<number, { key: string; at: number }>();
  const byKey = new Map<string, number[]>();
  let on = false;
  const client = store.getClient();
  client.on('commandStarted', (event) => {
    if (!on) return;
    const target = (event.command as Record<string, unknown>)[event.commandName];
    sent.set(event.requestId, { key: `${event.commandName} ${typeof target === 'string' ? target : ''}`.trim(), at: performance.now() });
  });
  const done = (event: { requestId: number }) => {
    const started = sent.get(event.requestId);
    if (!started) return;
    sent.delete(event.requestId);
    byKey.set(started.key, [...(byKey.get(started.key) ?? []), performance.now() - started.at]);
  };
  client.on('commandSucceeded', done);
  client.on('commandFailed', done);
  return {
    start: () => { on = true; },
    print: () => {
      console.log('\nstore commands during the top-up runs:');
      const rows = [...byKey].map(([key, ms]) => ({ key, count: ms.length, total: ms.reduce((a, b) => a + b, 0), p50: percentile([...ms].sort((a, b) => a - b), 50) }));
      for (const row of rows.sort((a, b) => b.total - a.total)) console.log(`  ${row.key.padEnd(36)} ${String(row.count).padStart(6)}x   total ${row.total.toFixed(0).padStart(6)} ms   p50 ${row.p50.toFixed(1).padStart(6)} ms`);
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Runs `count` jobs with at most `concurrency` in flight; returns each job's latency and the wall time. */
async function drive(count: number, concurrency: number, job: (i: number) => Promise<number>): Promise<{ latenciesMs: number[]; wallMs: number }> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) latenciesMs.push(await job(next++));
  }));
  return { latenciesMs: latenciesMs.sort((a, b) => a - b), wallMs: performance.now() - started };
}

type Phase = { latenciesMs: number[]; wallMs: number };

/** Phases of one kind across rounds: every run's latency, and the summed wall time. */
function combine(phases: Phase[]): Phase {
  return { latenciesMs: phases.flatMap((phase) => phase.latenciesMs).sort((a, b) => a - b), wallMs: phases.reduce((total, phase) => total + phase.wallMs, 0) };
}

const rateOf = (phase: Phase) => (phase.latenciesMs.length / phase.wallMs) * 1000;

function report(name: string, result: Phase): { runsPerS: number; p50Ms: number; p99Ms: number } {
  const figures = { runsPerS: rateOf(result), p50Ms: percentile(result.latenciesMs, 50), p99Ms: percentile(result.latenciesMs, 99) };
  console.log(`${name.padEnd(44)} ${figures.runsPerS.toFixed(1).padStart(7)} runs/s   p50 ${figures.p50Ms.toFixed(0).padStart(5)} ms   p99 ${figures.p99Ms.toFixed(0).padStart(5)} ms`);
  return figures;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const stack = await startTestStack({});
  const stopAll: Array<() => Promise<unknown>> = [() => stack.stop()];
  try {
    // The rate limit of events per API key (600 a minute by default) would answer 429 to rounds of a few hundred runs.
    const config = loadConfig({ ADMIN_API_KEY: ADMIN_KEY, TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: TASK_QUEUE, LOG_LEVEL: 'silent', RATE_LIMIT_EVENTS_PER_MINUTE: '1000000' });
    const store = await connectStore(stack.env.MONGODB_URI, { dbName: 'bench', monitorCommands: PROFILE_STORE });
    const storeProfile = PROFILE_STORE ? profileStore(store) : undefined;
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const sandbox = createSandbox({ processes: config.SCRIPT_SANDBOX_PROCESSES });
    const pumpWake: Pick<BalancePump, 'wake'> = { wake: () => undefined };
    const ledger = createLedger({ connection: store, policyLayer: groupPolicyLayer(store), onEntryInserted: (entry, markId) => pumpWake.wake(entry, markId) });
    await ledger.ensureIndexes();
    const mailer = createSmtpMailer(stack.env.SMTP_URL, 'bench@creditflow.local');
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./bench-workflows'), ...WORKFLOW_BUNDLER_OPTIONS, logger: new DefaultLogger('WARN') });
    const ownerContext = createOwnerContextLoader({ profileOf: createCustomerDirectory({ connection: store, ledger }).profileOf, ledger, defaultUnit: config.DEFAULT_UNIT });
    const activities = { ...createActivities({ connection: store, sandbox, ledger, mailer, templates: fileTemplateCatalog(BUNDLED_TEMPLATES_DIR), ownerContext }), noop: async () => undefined };
    capWorkflowThreadYoungGeneration();
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS }), taskQueue: TASK_QUEUE, workflowBundle: { code }, activities, sinks: runSinks(undefined),
      maxConcurrentLocalActivityExecutions: localActivitySlots(config.SCRIPT_SANDBOX_PROCESSES),
    });
    const running = worker.run();
    const logger = pino({ level: 'warn' });
    const ingestor = createEventIngestor({ connection: store, triggers: createTriggerStore(store), temporal: client, taskQueue: TASK_QUEUE, logger, ownerContext });
    const pump = new BalancePump({ outbox: ledger.balanceChanges, ingest: ingestor.ingest, routingOf: ingestor.routingOf, logger, pollIntervalMs: config.BALANCE_EVENTS_POLL_MS });
    pumpWake.wake = (entry, markId) => pump.wake(entry, markId);
    pump.start();
    stopAll.unshift(async () => { await pump.stop(); worker.shutdown(); await running; sandbox.dispose(); mailer.close(); await store.close(); await connection.close(); });

    const api = buildApi({ config, logger: pino({ level: 'silent' }), store, temporal: client, sandbox });
    await api.ensureIndexes();
    const server = api.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    stopAll.unshift(async () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
    const http = apiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, ADMIN_KEY);
    await http.call('POST', '/v1/triggers', documentedTopUpTrigger({ waitSeconds: 0 }));

    const perRound = Math.max(1, Math.floor(EVENTS / ROUNDS));
    console.log(`${perRound * ROUNDS} runs each in ${ROUNDS} alternating rounds, ${CONCURRENCY} in flight; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite, MailDev; node ${process.version}\n`);
    let baselineRuns = 0;
    const runBaseline = () => drive(perRound, CONCURRENCY, async () => {
      const started = performance.now();
      await client.workflow.execute('baselineRun', { taskQueue: TASK_QUEUE, workflowId: `baseline-${(baselineRuns += 1)}` });
      return performance.now() - started;
    });
    let topUps = 0;
    /** One top-up through the API: how long the POST took to answer, until the ledger entry's postedAt, and until the run's result. */
    const topUp = async (): Promise<{ postMs: number; ledgerMs: number; completedMs: number }> => {
      const i = (topUps += 1);
      const user = { id: `bench_user_${i}`, email: `u${i}@bench.local`, name: 'Bench' };
      const postedAtMs = Date.now();
      const started = performance.now();
      const accepted = await http.call<{ runs?: Array<{ workflowId: string }> }>('POST', '/v1/events', topUpEvent({ eventId: `evt_bench_${i}`, reservationId: `res_${i}`, priceInt: 5000, user }));
      const postMs = performance.now() - started;
      const workflowId = accepted.body.runs?.[0]?.workflowId;
      if (!workflowId) throw new Error(`POST /v1/events answered ${accepted.status} without a run: ${JSON.stringify(accepted.body)}`);
      const run = await client.workflow.getHandle<typeof triggerRun>(workflowId).result();
      const completedMs = performance.now() - started;
      const posted = run.tasks.find((task) => task.id === 'credit')?.output as { postedAt?: string } | undefined;
      if (!posted?.postedAt) throw new Error(`run ${workflowId} posted nothing: ${JSON.stringify(run.tasks)}`);
      return { postMs, ledgerMs: new Date(posted.postedAt).getTime() - postedAtMs, completedMs };
    };
    const runTopUp = () => drive(perRound, CONCURRENCY, async () => (await topUp()).ledgerMs);

    // The same short warm-up of both paths (10 runs, 5 in flight), so bundling, JIT, connection pools and the sandbox's processes do not count.
    await drive(10, 5, async () => { await client.workflow.execute('baselineRun', { taskQueue: TASK_QUEUE, workflowId: `warm-${Math.random()}` }); return 0; });
    await drive(10, 5, async () => { await topUp(); return 0; });

    storeProfile?.start();
    const baselines: Phase[] = [];
    const topUpPhases: Phase[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const baselinePhase = () => counted('baseline', () => profiled(`baseline-${round + 1}`, runBaseline));
      const topUpPhase = () => counted('top-up', () => profiled(`top-up-${round + 1}`, runTopUp));
      if (round % 2 === 0) {
        baselines.push(await baselinePhase());
        topUpPhases.push(await topUpPhase());
      } else {
        topUpPhases.push(await topUpPhase());
        baselines.push(await baselinePhase());
      }
      console.log(`  round ${round + 1}: baseline ${rateOf(baselines[round]!).toFixed(1)} runs/s, top-up ${rateOf(topUpPhases[round]!).toFixed(1)} runs/s, ratio ${(rateOf(topUpPhases[round]!) / rateOf(baselines[round]!)).toFixed(2)}x`);
    }
    // One at a time, after the rounds: the latency a single purchase sees on an otherwise idle stack.
    const serial: Array<{ postMs: number; ledgerMs: number; completedMs: number }> = [];
    for (let i = 0; i < SERIAL_EVENTS; i += 1) serial.push(await topUp());
    const sortedBy = (key: 'postMs' | 'ledgerMs' | 'completedMs') => serial.map((one) => one[key]).sort((a, b) => a - b);
    const [posts, ledgers, completions] = [sortedBy('postMs'), sortedBy('ledgerMs'), sortedBy('completedMs')];
    console.log('');
    const baseline = report('baseline: workflow + 3 no-op activities', combine(baselines));
    const e2e = report('top-up: POST -> script -> ledger entry', combine(topUpPhases));
    console.log(`one at a time (${SERIAL_EVENTS}): POST answered p50 ${percentile(posts, 50).toFixed(1)} ms p90 ${percentile(posts, 90).toFixed(1)} ms; POST to ledger entry p50 ${percentile(ledgers, 50).toFixed(0)} ms p90 ${percentile(ledgers, 90).toFixed(0)} ms; to run completed p50 ${percentile(completions, 50).toFixed(0)} ms`);
    if (storeProfile) storeProfile.print();
    console.log('\nCPU per run (ms, from /proc), by process and by thread of this process:');
    const perRun = (ms: number) => (ms / (perRound * ROUNDS)).toFixed(1);
    const listed = (totals: Map<string, number>) => [...totals].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${perRun(ms)}`).join(', ');
    for (const [kind, { processes, threads }] of cpuPerPhase) {
      console.log(`  ${kind.padEnd(9)} ${perRun([...processes.values()].reduce((a, b) => a + b, 0)).padStart(6)} in all: ${listed(processes)}`);
      console.log(`  ${''.padEnd(9)} ${''.padStart(6)} this process: ${listed(threads)}`);
    }
    console.log(`\nthroughput ratio (top-up / baseline, all rounds): ${(e2e.runsPerS / baseline.runsPerS).toFixed(2)}x (runs/s counts each run to its end, email included; target >= ${E2E_MIN_THROUGHPUT_RATIO.toFixed(2)}x)`);
    printBenchResult({
      bench: 'e2e', runs: perRound * ROUNDS, concurrency: CONCURRENCY,
      topUpRunsPerS: e2e.runsPerS, topUpP50Ms: e2e.p50Ms, topUpP99Ms: e2e.p99Ms,
      baselineRunsPerS: baseline.runsPerS, baselineP50Ms: baseline.p50Ms, baselineP99Ms: baseline.p99Ms,
      serialRuns: SERIAL_EVENTS, serialPostP50Ms: percentile(posts, 50), serialPostP90Ms: percentile(posts, 90),
      serialLedgerP50Ms: percentile(ledgers, 50), serialLedgerP90Ms: percentile(ledgers, 90), serialCompletedP50Ms: percentile(completions, 50),
    });
  } finally {
    for (const stop of stopAll) await stop().catch(() => undefined);
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
