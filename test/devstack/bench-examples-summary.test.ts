import { parseBenchResultLine, type BenchResult } from '../../devstack/bench-result';
import { summaryRows } from '../../devstack/bench-summary';

type Examples = Extract<BenchResult, { bench: 'examples' }>;

const result: Examples = {
  bench: 'examples', runs: 200, concurrency: 16, baselineRunsPerS: 20, baselineP50Ms: 700, baselineP99Ms: 900,
  examples: [
    { name: 'package-top-up', runsPerS: 23, p50Ms: 512.4, p99Ms: 1_250, cpuMsPerRun: 60 },
    { name: 'partner-wallet', runsPerS: 18, p50Ms: 800, p99Ms: 1_400, cpuMsPerRun: 80 },
  ],
};

describe('the examples rows of the bench summary', () => {
  it('gives each example its runs/s against the baseline of the same run, with its latency, and judges it by the throughput goal', () => {
    const rows = summaryRows(result);
    expect(rows.map((row) => [row.figure, row.result, row.baseline, row.ratio, row.met])).toEqual([
      ['package-top-up runs, 16 in flight (200); p50 512 ms, p99 1,250 ms', '23.0 runs/s', '3 no-op activities: 20.0 runs/s', '1.15x', 'yes'],
      ['partner-wallet runs, 16 in flight (200); p50 800 ms, p99 1,400 ms', '18.0 runs/s', '3 no-op activities: 20.0 runs/s', '0.90x', 'no'],
    ]);
  });

  it('reads the line bench:examples prints, and refuses one without examples', () => {
    expect(parseBenchResultLine(`BENCH_RESULT ${JSON.stringify(result)}`)).toEqual(result);
    expect(() => parseBenchResultLine(`BENCH_RESULT ${JSON.stringify({ ...result, examples: [] })}`)).toThrow();
  });
});
