// What each benchmark hands to `npm run bench` (devstack/bench-all.ts): after
// its human output, one line `BENCH_RESULT {json}` on stdout with the figures
// it measured, in the units their names end with. This module owns that line:
// the schema of each benchmark's figures, the printing and the parsing.
import { z } from 'zod';

/** The prefix of the one machine-readable line a benchmark prints last. */
export const BENCH_RESULT_PREFIX = 'BENCH_RESULT ';

const rate = z.number().nonnegative();
const durationMs = z.number().nonnegative();

/** One /healthz phase of bench:api: its latency and the events per second the senders got through (0 when idle). */
const healthzPhase = z.object({ name: z.string(), p50Ms: durationMs, p99Ms: durationMs, eventsPerS: rate });

export const benchResultSchema = z.discriminatedUnion('bench', [
  z.object({
    bench: z.literal('ledger'),
    postings: z.number().int().positive(),
    accounts: z.number().int().positive(),
    concurrency: z.number().int().positive(),
    /** Postings spread over many accounts, `concurrency` in flight. */
    spreadPostingsPerS: rate,
    /** Raw insertOne on the same store at the same concurrency, the mean of the two runs beside the spread run. */
    rawInsertsPerS: rate,
  }),
  z.object({
    bench: z.literal('e2e'),
    runs: z.number().int().positive(),
    concurrency: z.number().int().positive(),
    topUpRunsPerS: rate,
    /** POST /v1/events to the ledger entry's postedAt. */
    topUpP50Ms: durationMs,
    topUpP99Ms: durationMs,
    /** A workflow with three no-op activities, start to result. */
    baselineRunsPerS: rate,
    baselineP50Ms: durationMs,
    baselineP99Ms: durationMs,
    /** Top-ups sent one at a time after the throughput rounds. */
    serialRuns: z.number().int().positive(),
    /** One at a time: POST /v1/events until its answer. */
    serialPostP50Ms: durationMs,
    serialPostP90Ms: durationMs,
    /** One at a time: POST /v1/events to the ledger entry's postedAt. */
    serialLedgerP50Ms: durationMs,
    serialLedgerP90Ms: durationMs,
    /** One at a time: POST /v1/events until the run's result (email sent). */
    serialCompletedP50Ms: durationMs,
  }),
  z.object({
    bench: z.literal('examples'),
    /** Runs of each example, and of the baseline. */
    runs: z.number().int().positive(),
    concurrency: z.number().int().positive(),
    /** A workflow with three no-op activities, start to result. */
    baselineRunsPerS: rate,
    baselineP50Ms: durationMs,
    baselineP99Ms: durationMs,
    /** Each shipped example's runs, POST /v1/events to the run's result; CPU per run summed over every process of the stack. */
    examples: z.array(z.object({ name: z.string(), runsPerS: rate, p50Ms: durationMs, p99Ms: durationMs, cpuMsPerRun: durationMs })).min(1),
  }),
  z.object({
    bench: z.literal('sandbox'),
    runs: z.number().int().positive(),
    /** The default sandbox: isolates in child processes. */
    sandboxP50Us: durationMs,
    sandboxP99Us: durationMs,
    /** A fresh node:vm context per run. */
    freshContextP50Us: durationMs,
    freshContextP99Us: durationMs,
    /** RSS of the process that owns the sandbox (the worker's place) around `runs` default-mode runs; the child processes' own memory is not in it. */
    hostRssBeforeMb: z.number().nonnegative(),
    hostRssAfterMb: z.number().nonnegative(),
    /** True when both RSS readings followed a forced garbage collection (node --expose-gc). */
    rssAfterGc: z.boolean(),
  }),
  z.object({
    bench: z.literal('api'),
    phaseSeconds: z.number().positive(),
    idle: healthzPhase,
    loaded: z.array(healthzPhase).min(1),
  }),
  z.object({
    bench: z.literal('sweep'),
    accounts: z.number().int().positive(),
    /** Bare workflows started at the sweep's concurrency. */
    bareStartsPerS: rate,
    /** Fire to every run started, per account. */
    sweepStartsPerS: rate,
    /** Fire to every run completed, per account. */
    sweepCompletedPerS: rate,
  }),
  z.object({
    bench: z.literal('renewals'),
    subscriptions: z.number().int().positive(),
    /** Fire to the firing's run closed. */
    wallMs: durationMs,
    /** The subscription_renewals task's start-to-close timeout, which one firing's pass must fit in. */
    taskTimeoutMs: durationMs,
  }),
  z.object({
    bench: z.literal('worker-memory'),
    /** Top-up runs measured after the warm-up, to their result, `concurrency` in flight. */
    runs: z.number().int().positive(),
    warmupRuns: z.number().int().nonnegative(),
    concurrency: z.number().int().positive(),
    /** RSS of the worker process (engine/worker-main.ts) alone, after the warm-up and after the last run. */
    rssBeforeMb: z.number().nonnegative(),
    rssAfterMb: z.number().nonnegative(),
    /** True when every reading followed a forced garbage collection (node --expose-gc) with no run in flight. */
    rssAfterGc: z.boolean(),
    /**
     * A reading after the warm-up (runs 0) and after every 1,000 measured runs: the worker's RSS, its main
     * thread's heap and its workflow threads' heaps (all collected), and its sandbox processes' RSS (not collected).
     */
    samples: z.array(z.object({ runs: z.number().int().nonnegative(), rssMb: z.number().nonnegative(), heapUsedMb: z.number().nonnegative(), threadsHeapUsedMb: z.number().nonnegative(), sandboxRssMb: z.number().nonnegative() })).min(2),
    /** Measured runs per second, the readings' pauses left out. */
    runsPerS: rate,
  }),
]);

export type BenchResult = z.infer<typeof benchResultSchema>;

/** Prints the result line; a benchmark calls it once, after its human output. */
export function printBenchResult(result: BenchResult): void {
  process.stdout.write(`${BENCH_RESULT_PREFIX}${JSON.stringify(benchResultSchema.parse(result))}\n`);
}

/** The result in one line of a benchmark's stdout, or undefined when the line is not a result line; a malformed result throws. */
export function parseBenchResultLine(line: string): BenchResult | undefined {
  if (!line.startsWith(BENCH_RESULT_PREFIX)) return undefined;
  return benchResultSchema.parse(JSON.parse(line.slice(BENCH_RESULT_PREFIX.length)));
}
