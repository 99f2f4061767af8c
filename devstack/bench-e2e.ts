// `npm run bench:e2e [events] [concurrency] [rounds]`: drives events with a
// zero wait through a real stack (Temporal dev server, FerretDB, MailDev, the
// API over HTTP and one worker) and prints runs/s and POST-to-ledger-entry
// latency, beside a baseline measured in the same run on the same server and
// worker: a bare workflow with three no-op activities. The two alternate in
// rounds (A B, then B A, ...), so a machine whose speed drifts during the run
// moves both alike and the ratio stays meaningful. The stack is set up as
// the processes set it up (devstack/bench-stack.ts). The last stdout line is
// the BENCH_RESULT line `npm run bench` reads. `npm run bench:examples`
// measures the shipped examples' triggers the same way.
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { documentedTopUpTrigger, topUpEvent } from '../engine/triggers/documented-top-up';
import type { triggerRun } from '../workflows';
import { E2E_MIN_THROUGHPUT_RATIO } from './bench-goals';
import { printBenchResult } from './bench-result';
import { baselineRun, combine, CpuTally, drive, percentile, rateOf, report, startBenchStack, StoreProfile, type Phase } from './bench-stack';
import { E2E_WARM_UP_RUNS, warmUpRuns } from './bench-warm-up';

const EVENTS = Number(process.argv[2] ?? 200);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const ROUNDS = Number(process.argv[4] ?? 4);
/** Untimed runs of each path before the rounds (BENCH_WARMUP_RUNS; see warmUpRuns). */
const WARM_UP_RUNS = warmUpRuns(E2E_WARM_UP_RUNS);
/** Top-ups sent one at a time after the rounds, for the latency goals (BENCH_SERIAL_EVENTS). */
const SERIAL_EVENTS = Number(process.env.BENCH_SERIAL_EVENTS ?? 50);
/** BENCH_PROFILE_STORE=1 prints the store commands of the measured rounds by collection (the baseline sends none): count, total and p50 time. */
const PROFILE_STORE = process.env.BENCH_PROFILE_STORE === '1';
/** BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of this process's main thread (API, activities, driver) for each measured phase: baseline-<round>.cpuprofile and top-up-<round>.cpuprofile. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE;
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

async function main(): Promise<void> {
  const bench = await startBenchStack({ monitorCommands: PROFILE_STORE });
  try {
    const { client, http } = bench;
    const storeProfile = PROFILE_STORE ? new StoreProfile(bench.store) : undefined;
    const cpu = new CpuTally();
    await http.call('POST', '/v1/triggers', documentedTopUpTrigger({ waitSeconds: 0 }));

    const perRound = Math.max(1, Math.floor(EVENTS / ROUNDS));
    console.log(`${perRound * ROUNDS} runs each in ${ROUNDS} alternating rounds after ${WARM_UP_RUNS} warm-up runs of each, ${CONCURRENCY} in flight; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite, MailDev; node ${process.version}\n`);
    let baselineRuns = 0;
    const runBaseline = () => drive(perRound, CONCURRENCY, () => baselineRun(client, `baseline-${(baselineRuns += 1)}`));
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
    // A phase ends once the pump has handed over its postings' balance events, so that work is the top-up's.
    const runTopUp = () => drive(perRound, CONCURRENCY, async () => (await topUp()).ledgerMs, bench.balanceEventsDelivered);

    // The same warm-up of both paths, so bundling, the JIT's compiling, connection pools and the sandbox's processes do not count.
    await drive(WARM_UP_RUNS, CONCURRENCY, () => baselineRun(client, `warm-${Math.random()}`));
    await drive(WARM_UP_RUNS, CONCURRENCY, async () => { await topUp(); return 0; }, bench.balanceEventsDelivered);

    storeProfile?.label('top-up');
    const baselines: Phase[] = [];
    const topUpPhases: Phase[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const baselinePhase = () => cpu.counted('baseline', () => profiled(`baseline-${round + 1}`, runBaseline));
      const topUpPhase = () => cpu.counted('top-up', () => profiled(`top-up-${round + 1}`, runTopUp));
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
    if (storeProfile) {
      console.log('\nstore commands during the top-up runs:');
      storeProfile.print('top-up');
    }
    console.log('\nCPU per run (ms, from /proc), by process and by thread of this process:');
    const listed = (rows: Array<[string, number]>) => rows.map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ');
    for (const kind of cpu.kinds()) {
      const { total, processes, threads } = cpu.perRun(kind, perRound * ROUNDS);
      console.log(`  ${kind.padEnd(9)} ${total.toFixed(1).padStart(6)} in all: ${listed(processes)}`);
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
    await bench.stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
