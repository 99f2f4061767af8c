// `npm run bench:sweep [accounts]` (default 10,000): opens that many USD
// accounts on a throwaway stack (Temporal dev server, FerretDB, MailDev, the
// API over HTTP and one worker) and times one sweep firing of a scheduled
// trigger over them, from POST /v1/triggers/{id}/fire to every run started
// (the firing's summary completed) and to every run closed. Printed beside a
// baseline measured in the same run on the same server: bare workflows
// started at the sweep's concurrency, and a sweep whose filter matches no
// account (reading and filtering only). BENCH_SWEEP_SCAN_ONLY=1 runs only
// that sweep (e.g. over 100,000 accounts) and prints the process's peak RSS.
// A full run's last stdout line is the BENCH_RESULT line `npm run bench` reads.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Ledger } from '../engine/ledger';
import { SWEEP_START_CONCURRENCY } from '../engine/schedules/fire';
import type { FiringSummary } from '../engine/schedules/firing-store';
import { type ApiClient } from './api-client';
import { printBenchResult } from './bench-result';
import { startFiringBenchStack } from './bench-firing-stack';

const ACCOUNTS = Number(process.argv[2] ?? 10_000);
const BASELINE_STARTS = Math.min(ACCOUNTS, 2_000);
const TASK_QUEUE = 'bench-sweep';
const ADMIN_KEY = 'bench-admin-key-0123456789';
const SCAN_ONLY = process.env.BENCH_SWEEP_SCAN_ONLY === '1';

/** The process's largest resident set seen, sampled every 100 ms: the API, the worker and the sweep share it. */
function peakRss(): { stop: () => number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 100);
  return { stop: () => { clearInterval(timer); return Math.max(peak, process.memoryUsage().rss); } };
}

/** Opens `count` accounts with 32 postings in flight. */
async function openAccounts(ledger: Ledger, count: number): Promise<number> {
  const startedAt = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      await ledger.post({ ownerId: `bench-${String(i).padStart(7, '0')}`, unit: 'USD', direction: 'credit', amount: 500 + (i % 1000), idempotencyKey: `bench-open-${i}`, createIfMissing: true, source: { kind: 'api', keyId: 'bench' } });
    }
  }));
  return performance.now() - startedAt;
}

/** A sweep over USD accounts whose one task is skipped by its `when`: each run is one cheap workflow. */
function sweepTrigger(name: string, filter: Record<string, unknown>) {
  return {
    name,
    on: { schedule: { cron: '0 6 1 1 *', timezone: 'UTC' } },
    forEachAccount: { unit: 'USD', filter },
    tasks: [{ id: 'remind', type: 'script', code: 'return {};', when: { 'account.balance': { $lt: 0 } } }],
  };
}

/** Fires the trigger and waits for its summary to leave `pending`/`running`; returns it and the wall time. */
async function fireAndSettle(http: ApiClient, triggerId: string): Promise<{ firing: FiringSummary; wallMs: number }> {
  const startedAt = performance.now();
  const fired = await http.call<FiringSummary>('POST', `/v1/triggers/${triggerId}/fire`, {});
  if (fired.status !== 202) throw new Error(`fire answered ${fired.status}: ${JSON.stringify(fired.body)}`);
  for (;;) {
    const firing = (await http.call<FiringSummary>('GET', `/v1/triggers/${triggerId}/firings/${encodeURIComponent(fired.body.firingId)}`)).body;
    if (firing.status !== 'pending' && firing.status !== 'running') return { firing, wallMs: performance.now() - startedAt };
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const { client, ledger, http, stop } = await startFiringBenchStack({ dbName: 'bench_sweep', taskQueue: TASK_QUEUE, adminKey: ADMIN_KEY });
  try {
    console.log(`${ACCOUNTS} USD accounts; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite; runs started ${SWEEP_START_CONCURRENCY} at a time; node ${process.version}\n`);
    const openMs = await openAccounts(ledger, ACCOUNTS);
    console.log(`accounts opened in ${(openMs / 1000).toFixed(1)} s`);

    if (SCAN_ONLY) {
      const scanOnly = (await http.call<{ id: string }>('POST', '/v1/triggers', sweepTrigger('Bench sweep, no match', { balance: { $lt: 0 } }))).body.id;
      const rssBefore = process.memoryUsage().rss;
      const rss = peakRss();
      const scan = await fireAndSettle(http, scanOnly);
      console.log(`sweep matching no account: ${scan.firing.matched} matched, ${(scan.wallMs / 1000).toFixed(1)} s, ${((ACCOUNTS / scan.wallMs) * 1000).toFixed(0)} accounts/s read and filtered; RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, peak ${(rss.stop() / 2 ** 20).toFixed(0)} MB during`);
      return;
    }
    let baselineStarted = 0;
    const baselineStart = performance.now();
    await Promise.all(Array.from({ length: SWEEP_START_CONCURRENCY }, async () => {
      while (baselineStarted < BASELINE_STARTS) await client.workflow.start('bareRun', { taskQueue: TASK_QUEUE, workflowId: `bare-${(baselineStarted += 1)}` });
    }));
    const baselineRate = (BASELINE_STARTS / (performance.now() - baselineStart)) * 1000;
    console.log(`baseline: ${BASELINE_STARTS} bare workflows started, ${SWEEP_START_CONCURRENCY} in flight: ${baselineRate.toFixed(0)} starts/s`);
    while ((await client.workflow.count(`WorkflowType = 'bareRun' AND ExecutionStatus = 'Running'`)).count > 0) await sleep(250);

    const scanOnly = (await http.call<{ id: string }>('POST', '/v1/triggers', sweepTrigger('Bench sweep, no match', { balance: { $lt: 0 } }))).body.id;
    const scan = await fireAndSettle(http, scanOnly);
    console.log(`baseline: sweep matching no account: ${scan.firing.matched} matched, ${(scan.wallMs / 1000).toFixed(1)} s, ${((ACCOUNTS / scan.wallMs) * 1000).toFixed(0)} accounts/s read and filtered`);

    const full = (await http.call<{ id: string }>('POST', '/v1/triggers', sweepTrigger('Bench sweep, every account', {}))).body.id;
    const sweepStart = performance.now();
    const sweep = await fireAndSettle(http, full);
    if (sweep.firing.started !== ACCOUNTS) throw new Error(`the sweep started ${sweep.firing.started} runs, not ${ACCOUNTS}: ${JSON.stringify(sweep.firing)}`);
    const startedRate = (ACCOUNTS / sweep.wallMs) * 1000;
    console.log(`sweep: fire -> ${sweep.firing.started} runs started in ${(sweep.wallMs / 1000).toFixed(1)} s: ${startedRate.toFixed(0)} accounts/s (${(startedRate / baselineRate).toFixed(2)}x the bare start rate)`);
    for (;;) {
      const closed = (await client.workflow.count(`CreditflowTriggerId = '${full}' AND ExecutionStatus = 'Completed'`)).count;
      if (closed >= ACCOUNTS) break;
      await sleep(500);
    }
    const completedMs = performance.now() - sweepStart;
    const completedRate = (ACCOUNTS / completedMs) * 1000;
    console.log(`sweep: fire -> all ${ACCOUNTS} runs completed in ${(completedMs / 1000).toFixed(1)} s: ${completedRate.toFixed(0)} accounts/s`);
    printBenchResult({ bench: 'sweep', accounts: ACCOUNTS, bareStartsPerS: baselineRate, sweepStartsPerS: startedRate, sweepCompletedPerS: completedRate });
  } finally {
    await stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
