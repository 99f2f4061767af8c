// `npm run bench [name ...]`: runs every benchmark (or the named ones:
// sandbox, ledger, e2e, examples, api, sweep, renewals, worker-memory) one after
// another, each as its own `bench:<name>` script runs it but with small
// arguments, so the whole run takes a few minutes on 2 cores; then prints
// one table of figures, the baselines measured in the same runs, ratios and
// goals (devstack/bench-summary.ts). Never two at once: each benchmark's baseline
// shares the machine with it, and a second benchmark would skew both.
// Each benchmark hands over its figures in its last stdout line
// (devstack/bench-result.ts); the rest of its output is echoed as it comes.
// Exits 0 when every benchmark gave its figures, met goals or not; 1 otherwise.
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseBenchResultLine, type BenchResult } from './bench-result';
import { failedRow, summaryRows, summaryTable, type SummaryRow } from './bench-summary';
import { E2E_WARM_UP_RUNS, EXAMPLES_WARM_UP_RUNS, warmUpRuns } from './bench-warm-up';
import { ManagedChild } from './managed-child';
import { OrphanReaper } from './orphan-reaper';
import { REPO_DIR } from './paths';
import { say } from './say';

interface BenchStep {
  readonly name: BenchResult['bench'];
  /** The entry file its `bench:<name>` script runs. */
  readonly entry: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The small arguments in words, for the narration. */
  readonly size: string;
  /** How long it may run; STEP_TIMEOUT_MS when not given. */
  readonly timeoutMs?: number;
}

/** The benchmarks in the order they run, quickest first, with arguments that keep each to about a minute on 2 cores. */
const STEPS: readonly BenchStep[] = [
  // A forced GC before each RSS reading, so the growth is not garbage waiting to be collected.
  { name: 'sandbox', entry: 'scripts-sandbox/bench.ts', args: [], env: { NODE_OPTIONS: [process.env.NODE_OPTIONS, '--expose-gc'].filter(Boolean).join(' ') }, size: '10,000 runs, node --expose-gc' },
  { name: 'ledger', entry: 'engine/ledger/bench.ts', args: [], env: { BENCH_POSTINGS: '1000' }, size: 'BENCH_POSTINGS=1000 (default 2,000)' },
  { name: 'e2e', entry: 'devstack/bench-e2e.ts', args: ['200', '16', '4'], env: {}, size: `200 runs each after ${warmUpRuns(E2E_WARM_UP_RUNS)} warm-up runs of each, 16 in flight, 4 rounds` },
  { name: 'examples', entry: 'devstack/bench-examples.ts', args: ['100', '16', '2'], env: {}, size: `100 runs of each example and of the baseline after ${warmUpRuns(EXAMPLES_WARM_UP_RUNS)} warm-up runs of each, 16 in flight, 2 rounds` },
  { name: 'api', entry: 'devstack/bench-api.ts', args: ['5'], env: {}, size: '5 s per phase (default 10)' },
  { name: 'sweep', entry: 'devstack/bench-sweep.ts', args: ['500'], env: {}, size: '500 accounts (default 10,000)' },
  { name: 'renewals', entry: 'devstack/bench-renewals.ts', args: ['2000'], env: {}, size: '2,000 subscriptions (default 10,000)' },
  // About 3 minutes on 2 cores: the worker's start (bundling) and 1,200 runs; its rows say how many runs they measured.
  { name: 'worker-memory', entry: 'devstack/bench-worker-memory.ts', args: ['1000', '16'], env: {}, size: '1,000 runs after 200 warm-up runs, 16 in flight (default 10,000)', timeoutMs: 12 * 60_000 },
];

/** How long one benchmark may run before it is stopped: about five times what the small arguments take on 2 cores. */
const STEP_TIMEOUT_MS = 5 * 60_000;

/** How long a stopped benchmark gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 10_000;

const BOOTSTRAP = path.join(REPO_DIR, 'devstack', 'bootstrap.cjs');

/** What one benchmark gave: its figures, or why there are none. */
type StepOutcome = { result: BenchResult; elapsedMs: number } | { failure: string; elapsedMs: number };

/**
 * The benchmark run: one child at a time, stopped (its whole process group)
 * when it runs out of time or when this process is told to stop.
 */
class BenchRun {
  private readonly reaper = new OrphanReaper();
  private current: ManagedChild | undefined;
  private stopReason: string | undefined;

  constructor() {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        this.stopReason ??= `stopped by ${signal}`;
        void this.current?.stop(STOP_GRACE_MS);
      });
    }
  }

  get stopped(): string | undefined {
    return this.stopReason;
  }

  async run(step: BenchStep): Promise<StepOutcome> {
    const startedAt = performance.now();
    const results: BenchResult[] = [];
    let malformed: string | undefined;
    const child = new ManagedChild({
      name: step.name, command: process.execPath, args: [BOOTSTRAP, 'run', step.entry, ...step.args], cwd: REPO_DIR, env: { ...process.env, ...step.env }, echo: true,
      // The echo sees every line first: the result line is kept here and shown as one short note.
      format: (line) => {
        try {
          const result = parseBenchResultLine(line);
          if (!result) return line;
          results.push(result);
          return '(figures handed to the summary)';
        } catch (error) {
          malformed = (error as Error).message.split('\n')[0];
          return line;
        }
      },
    }, this.reaper);
    this.current = child;
    let timedOut = false;
    const timeoutMs = step.timeoutMs ?? STEP_TIMEOUT_MS;
    const timer = setTimeout(() => {
      timedOut = true;
      void child.stop(STOP_GRACE_MS);
    }, timeoutMs);
    const exit = await child.exited;
    clearTimeout(timer);
    this.current = undefined;
    const elapsedMs = performance.now() - startedAt;
    const result = results.at(-1);
    if (timedOut) return { failure: `stopped after ${timeoutMs / 60_000} min`, elapsedMs };
    if (exit.code !== 0) return { failure: exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`, elapsedMs };
    if (malformed) return { failure: `malformed result line: ${malformed}`, elapsedMs };
    if (!result || result.bench !== step.name) return { failure: 'no result line', elapsedMs };
    return { result, elapsedMs };
  }

  close(): void {
    this.reaper.close();
  }
}

function stepsNamed(names: readonly string[]): readonly BenchStep[] {
  if (names.length === 0) return STEPS;
  const unknown = names.filter((name) => !STEPS.some((step) => step.name === name));
  if (unknown.length > 0) throw new Error(`no benchmark named ${unknown.join(', ')}; the benchmarks are ${STEPS.map((step) => step.name).join(', ')}`);
  return STEPS.filter((step) => names.includes(step.name));
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

async function main(): Promise<number> {
  const steps = stepsNamed(process.argv.slice(2));
  const loadBefore = os.loadavg()[0]!;
  const startedAt = performance.now();
  const bench = new BenchRun();
  const rows: SummaryRow[] = [];
  const times: string[] = [];
  let failures = 0;
  try {
    for (const step of steps) {
      if (bench.stopped) break;
      say(`bench:${step.name}: ${step.size}`);
      const outcome = await bench.run(step);
      say(`bench:${step.name}: ${'result' in outcome ? 'done' : outcome.failure} in ${seconds(outcome.elapsedMs)}`);
      times.push(`${step.name} ${seconds(outcome.elapsedMs)}`);
      if (!('result' in outcome)) failures += 1;
      rows.push(...('result' in outcome ? summaryRows(outcome.result) : [failedRow(step.name, outcome.failure)]));
    }
  } finally {
    bench.close();
  }
  if (bench.stopped) {
    say(`${bench.stopped}; no summary`);
    return 1;
  }
  const day = new Date().toISOString().slice(0, 10);
  process.stdout.write(`\n${day}, ${machine()}; load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0]!.toFixed(1)} after; ${seconds(performance.now() - startedAt)} in all (${times.join(', ')})\n\n`);
  process.stdout.write(`${summaryTable(rows)}\n`);
  return failures > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  say(`error: ${(error as Error).message}`);
  process.exit(1);
});
