import { WORKER_MAX_RSS_GROWTH_MB, WORKER_RSS_GROWTH_RUNS } from '../../devstack/bench-goals';
import { parseBenchResultLine, type BenchResult } from '../../devstack/bench-result';
import { summaryRows } from '../../devstack/bench-summary';

type WorkerMemory = Extract<BenchResult, { bench: 'worker-memory' }>;

function result(runs: number, rssMbAt: (runs: number) => number): WorkerMemory {
  const samples = Array.from({ length: Math.ceil(runs / 1_000) + 1 }, (_, i) => {
    const at = Math.min(i * 1_000, runs);
    return { runs: at, rssMb: rssMbAt(at), heapUsedMb: 100, threadsHeapUsedMb: 30, sandboxRssMb: 180 + i };
  });
  return {
    bench: 'worker-memory', runs, warmupRuns: 200, concurrency: 16,
    rssBeforeMb: samples[0]!.rssMb, rssAfterMb: samples.at(-1)!.rssMb, rssAfterGc: true, samples, runsPerS: 12.5,
  };
}

describe('the worker-memory rows of the bench summary', () => {
  it('meets the goal only over the runs it is set for, and says how many runs were measured', () => {
    const [growth] = summaryRows(result(WORKER_RSS_GROWTH_RUNS, (runs) => 700 + runs / 1_000));
    expect(growth!.figure).toContain(`over ${WORKER_RSS_GROWTH_RUNS.toLocaleString('en-US')} top-up runs`);
    expect(growth!.result).toBe('+10.0 MB (700.0 to 710.0 MB, after GC)');
    expect(growth!.goal).toBe(`< ${WORKER_MAX_RSS_GROWTH_MB} MB over 10,000 runs`);
    expect(growth!.met).toBe('yes');
  });

  it('never meets the goal over fewer runs, but misses it when they already grew past it', () => {
    expect(summaryRows(result(1_000, () => 700))[0]!.met).toBe('- (1,000 runs)');
    expect(summaryRows(result(1_000, (runs) => 700 + (runs > 0 ? WORKER_MAX_RSS_GROWTH_MB : 0)))[0]!.met).toBe('no');
  });

  it('lists the readings when there are more than the first and the last, and the sandbox processes beside them', () => {
    const rows = summaryRows(result(3_000, (runs) => 700 + runs / 100));
    expect(rows.map((row) => row.figure)).toEqual([
      'worker RSS growth over 3,000 top-up runs (worker process alone, 16 in flight)',
      'worker RSS at runs 0, 1,000, 2,000, 3,000',
      "the sandbox's processes beside it (no forced GC)",
    ]);
    expect(rows[1]!.result).toBe('700, 710, 720, 730 MB');
    expect(rows[2]!.result).toBe('+3.0 MB (180.0 to 183.0 MB)');
    expect(summaryRows(result(1_000, () => 700))).toHaveLength(2);
  });

  it('round-trips through the BENCH_RESULT line', () => {
    const figures = result(2_000, () => 700);
    expect(parseBenchResultLine(`BENCH_RESULT ${JSON.stringify(figures)}`)).toEqual(figures);
  });
});
