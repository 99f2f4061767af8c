/**
 * How many untimed runs of each path go before the measured rounds, at the
 * rounds' concurrency: BENCH_WARMUP_RUNS, else the benchmark's default. A
 * worker and an API that have served for a while have compiled their hot
 * code; a few runs do not get there. V8's trace of optimizations under
 * bench:e2e's load: 2,891 during 800 top-ups after 30 warm-up runs, 343
 * during the 800 after the first 800, each on the V8 platform threads whose
 * CPU counts against the path measured.
 */
export function warmUpRuns(fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_WARMUP_RUNS;
  if (raw === undefined || raw.trim() === '') return fallback;
  const runs = Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 0) throw new Error(`BENCH_WARMUP_RUNS must be a whole number of runs, 0 or more; got "${raw}"`);
  return runs;
}

/** bench:e2e's warm-up runs of each path, unless BENCH_WARMUP_RUNS says otherwise. */
export const E2E_WARM_UP_RUNS = 400;
/** bench:examples' warm-up runs of each example and of the baseline (six paths sharing most of their code). */
export const EXAMPLES_WARM_UP_RUNS = 200;
