// The summary table of `npm run bench`: each benchmark's result line turned
// into rows (figure, result, baseline from the same run, ratio, goal, met),
// the goals read from devstack/bench-goals.ts. A Markdown table, so it reads
// in a terminal and pastes into the README as it is.
import {
  E2E_MIN_THROUGHPUT_RATIO, LEDGER_MIN_SPREAD_RATIO, POST_EVENT_MAX_P50_MS, POST_TO_LEDGER_MAX_P50_MS, POST_TO_LEDGER_MAX_P90_MS, RENEWALS_PER_FIRING, SANDBOX_MAX_P50_RATIO,
  SANDBOX_MAX_P99_US, WORKER_MAX_RSS_GROWTH_MB, WORKER_RSS_GROWTH_RUNS,
} from './bench-goals';
import type { BenchResult } from './bench-result';

export interface SummaryRow {
  readonly bench: string;
  readonly figure: string;
  readonly result: string;
  /** The comparison measured in the same run, or '-' when the benchmark has none for this figure. */
  readonly baseline: string;
  readonly ratio: string;
  readonly goal: string;
  /** 'yes' or 'no' against the goal; '-' without a goal. */
  readonly met: string;
}

const NONE = '-';

/** A number with thousands separators and at most `digits` decimals. */
function num(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(value: number): string {
  return `${num(value, 2)}x`;
}

function met(ok: boolean): string {
  return ok ? 'yes' : 'no';
}

function durationText(ms: number): string {
  if (ms < 120_000) return `${num(ms / 1000, 1)} s`;
  return `${num(ms / 60_000, ms % 60_000 === 0 ? 0 : 1)} min`;
}

function ledgerRows(r: Extract<BenchResult, { bench: 'ledger' }>): SummaryRow[] {
  const spread = r.spreadPostingsPerS / r.rawInsertsPerS;
  return [{
    bench: 'ledger', figure: `postings spread over ${num(r.accounts)} accounts, ${r.concurrency} concurrent`,
    result: `${num(r.spreadPostingsPerS)}/s`, baseline: `raw insertOne: ${num(r.rawInsertsPerS)}/s`,
    ratio: ratio(spread), goal: `>= ${ratio(LEDGER_MIN_SPREAD_RATIO)}`, met: met(spread >= LEDGER_MIN_SPREAD_RATIO),
  }];
}

function e2eRows(r: Extract<BenchResult, { bench: 'e2e' }>): SummaryRow[] {
  const throughput = r.topUpRunsPerS / r.baselineRunsPerS;
  return [
    {
      bench: 'e2e', figure: `top-up runs, ${r.concurrency} in flight (${num(r.runs)})`,
      result: `${num(r.topUpRunsPerS, 1)} runs/s`, baseline: `3 no-op activities: ${num(r.baselineRunsPerS, 1)} runs/s`,
      ratio: ratio(throughput), goal: `>= ${ratio(E2E_MIN_THROUGHPUT_RATIO)}`, met: met(throughput >= E2E_MIN_THROUGHPUT_RATIO),
    },
    {
      bench: 'e2e', figure: 'top-up latency, POST to ledger entry',
      result: `p50 ${num(r.topUpP50Ms)} ms, p99 ${num(r.topUpP99Ms)} ms`, baseline: `p50 ${num(r.baselineP50Ms)} ms, p99 ${num(r.baselineP99Ms)} ms`,
      ratio: NONE, goal: NONE, met: NONE,
    },
    {
      bench: 'e2e', figure: `one at a time (${num(r.serialRuns)}): POST /v1/events answered`,
      result: `p50 ${num(r.serialPostP50Ms, 1)} ms, p90 ${num(r.serialPostP90Ms, 1)} ms`, baseline: NONE,
      ratio: NONE, goal: `p50 <= ${POST_EVENT_MAX_P50_MS} ms`, met: met(r.serialPostP50Ms <= POST_EVENT_MAX_P50_MS),
    },
    {
      bench: 'e2e', figure: 'one at a time: POST to ledger entry',
      result: `p50 ${num(r.serialLedgerP50Ms)} ms, p90 ${num(r.serialLedgerP90Ms)} ms`, baseline: NONE,
      ratio: NONE, goal: `p50 <= ${POST_TO_LEDGER_MAX_P50_MS} ms, p90 <= ${POST_TO_LEDGER_MAX_P90_MS} ms`,
      met: met(r.serialLedgerP50Ms <= POST_TO_LEDGER_MAX_P50_MS && r.serialLedgerP90Ms <= POST_TO_LEDGER_MAX_P90_MS),
    },
    {
      bench: 'e2e', figure: 'one at a time: POST to run completed (email sent)',
      result: `p50 ${num(r.serialCompletedP50Ms)} ms`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE,
    },
  ];
}

function sandboxRows(r: Extract<BenchResult, { bench: 'sandbox' }>): SummaryRow[] {
  const p50 = r.sandboxP50Us / r.freshContextP50Us;
  const growthMb = r.hostRssAfterMb - r.hostRssBeforeMb;
  const settled = r.rssAfterGc ? 'after GC' : 'no forced GC';
  return [
    {
      bench: 'sandbox', figure: `script run p50, default sandbox (${num(r.runs)} runs)`,
      result: `${num(r.sandboxP50Us)} us`, baseline: `fresh node:vm context: ${num(r.freshContextP50Us)} us`,
      ratio: ratio(p50), goal: `<= ${ratio(SANDBOX_MAX_P50_RATIO)}`, met: met(p50 <= SANDBOX_MAX_P50_RATIO),
    },
    {
      bench: 'sandbox', figure: 'script run p99, default sandbox',
      result: `${num(r.sandboxP99Us)} us`, baseline: `fresh node:vm context: ${num(r.freshContextP99Us)} us`,
      ratio: ratio(r.sandboxP99Us / r.freshContextP99Us), goal: `<= ${num(SANDBOX_MAX_P99_US)} us`, met: met(r.sandboxP99Us <= SANDBOX_MAX_P99_US),
    },
    {
      bench: 'sandbox', figure: `RSS growth over ${num(r.runs)} runs, sandbox owner (children not counted)`,
      result: `${growthMb >= 0 ? '+' : ''}${num(growthMb, 1)} MB (${num(r.hostRssBeforeMb, 1)} to ${num(r.hostRssAfterMb, 1)} MB, ${settled})`, baseline: NONE,
      ratio: NONE, goal: `< ${num(WORKER_MAX_RSS_GROWTH_MB)} MB`, met: met(growthMb < WORKER_MAX_RSS_GROWTH_MB),
    },
  ];
}

function apiRows(r: Extract<BenchResult, { bench: 'api' }>): SummaryRow[] {
  return r.loaded.map((phase) => ({
    bench: 'api', figure: `/healthz p99, ${phase.name}: ${num(phase.eventsPerS)} events/s`,
    result: `${num(phase.p99Ms, 1)} ms`, baseline: `idle: ${num(r.idle.p99Ms, 1)} ms`,
    ratio: ratio(phase.p99Ms / r.idle.p99Ms), goal: NONE, met: NONE,
  }));
}

function sweepRows(r: Extract<BenchResult, { bench: 'sweep' }>): SummaryRow[] {
  return [
    {
      bench: 'sweep', figure: `sweep firing to all runs started (${num(r.accounts)} accounts)`,
      result: `${num(r.sweepStartsPerS)} accounts/s`, baseline: `bare workflow starts: ${num(r.bareStartsPerS)}/s`,
      ratio: ratio(r.sweepStartsPerS / r.bareStartsPerS), goal: NONE, met: NONE,
    },
    {
      bench: 'sweep', figure: 'the same, to all runs completed',
      result: `${num(r.sweepCompletedPerS)} accounts/s`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE,
    },
  ];
}

function renewalsRows(r: Extract<BenchResult, { bench: 'renewals' }>): SummaryRow[] {
  const perS = (r.subscriptions / r.wallMs) * 1000;
  // Linear: the pass's rate held from 1,000 to 10,000 subscriptions when measured (README); `npm run bench:renewals` runs 10,000 itself.
  const extrapolatedMs = (RENEWALS_PER_FIRING / perS) * 1000;
  return [
    {
      bench: 'renewals', figure: `renewal firing to run closed (${num(r.subscriptions)} due)`,
      result: `${num(perS)} subscriptions/s (${durationText(r.wallMs)})`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE,
    },
    {
      bench: 'renewals', figure: `${num(RENEWALS_PER_FIRING)} in one firing (linear from ${num(r.subscriptions)})`,
      result: `${durationText(extrapolatedMs)} (${num((extrapolatedMs / r.taskTimeoutMs) * 100)}% of the timeout)`, baseline: NONE,
      ratio: NONE, goal: `<= ${durationText(r.taskTimeoutMs)} (task timeout)`, met: met(extrapolatedMs <= r.taskTimeoutMs),
    },
  ];
}

function workerMemoryRows(r: Extract<BenchResult, { bench: 'worker-memory' }>): SummaryRow[] {
  const growthMb = r.rssAfterMb - r.rssBeforeMb;
  const settled = r.rssAfterGc ? 'after GC' : 'no forced GC';
  // The goal is set over WORKER_RSS_GROWTH_RUNS runs: fewer runs can miss it, but never meet it.
  const verdict = growthMb >= WORKER_MAX_RSS_GROWTH_MB ? met(false) : r.runs >= WORKER_RSS_GROWTH_RUNS ? met(true) : `- (${num(r.runs)} runs)`;
  const [first, last] = [r.samples[0]!, r.samples.at(-1)!];
  return [
    {
      bench: 'worker-memory', figure: `worker RSS growth over ${num(r.runs)} top-up runs (worker process alone, ${r.concurrency} in flight)`,
      result: `${signed(growthMb)} MB (${num(r.rssBeforeMb, 1)} to ${num(r.rssAfterMb, 1)} MB, ${settled})`, baseline: NONE,
      ratio: NONE, goal: `< ${num(WORKER_MAX_RSS_GROWTH_MB)} MB over ${num(WORKER_RSS_GROWTH_RUNS)} runs`, met: verdict,
    },
    ...(r.samples.length > 2 ? [{
      bench: 'worker-memory', figure: `worker RSS at runs ${r.samples.map((sample) => num(sample.runs)).join(', ')}`,
      result: `${r.samples.map((sample) => num(sample.rssMb)).join(', ')} MB`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE,
    }] : []),
    {
      bench: 'worker-memory', figure: "the sandbox's processes beside it (no forced GC)",
      result: `${signed(last.sandboxRssMb - first.sandboxRssMb)} MB (${num(first.sandboxRssMb, 1)} to ${num(last.sandboxRssMb, 1)} MB)`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE,
    },
  ];
}

function examplesRows(r: Extract<BenchResult, { bench: 'examples' }>): SummaryRow[] {
  return r.examples.map((example) => {
    const throughput = example.runsPerS / r.baselineRunsPerS;
    return {
      bench: 'examples', figure: `${example.name} runs, ${r.concurrency} in flight (${num(r.runs)}); p50 ${num(example.p50Ms)} ms, p99 ${num(example.p99Ms)} ms`,
      result: `${num(example.runsPerS, 1)} runs/s`, baseline: `3 no-op activities: ${num(r.baselineRunsPerS, 1)} runs/s`,
      ratio: ratio(throughput), goal: `>= ${ratio(E2E_MIN_THROUGHPUT_RATIO)}`, met: met(throughput >= E2E_MIN_THROUGHPUT_RATIO),
    };
  });
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${num(value, 1)}`;
}

/** The rows of one benchmark's result. */
export function summaryRows(result: BenchResult): SummaryRow[] {
  switch (result.bench) {
    case 'ledger': return ledgerRows(result);
    case 'e2e': return e2eRows(result);
    case 'examples': return examplesRows(result);
    case 'sandbox': return sandboxRows(result);
    case 'api': return apiRows(result);
    case 'sweep': return sweepRows(result);
    case 'renewals': return renewalsRows(result);
    case 'worker-memory': return workerMemoryRows(result);
  }
}

/** The row standing for a benchmark that gave no result (it failed or ran out of time). */
export function failedRow(bench: string, why: string): SummaryRow {
  return { bench, figure: NONE, result: `no result: ${why}`, baseline: NONE, ratio: NONE, goal: NONE, met: NONE };
}

const COLUMNS: ReadonlyArray<[keyof SummaryRow, string]> = [
  ['bench', 'bench'], ['figure', 'figure'], ['result', 'result'], ['baseline', 'baseline (same run)'], ['ratio', 'ratio'], ['goal', 'goal'], ['met', 'met'],
];

/** The rows as a Markdown table with padded columns. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((row) => row[key].length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(COLUMNS.map(([, title]) => title)),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map((row) => line(COLUMNS.map(([key]) => row[key]))),
  ].join('\n');
}
