import { warmUpRuns } from '../../devstack/bench-warm-up';

describe("a benchmark's warm-up runs", () => {
  it("are the benchmark's default when BENCH_WARMUP_RUNS is unset or blank", () => {
    expect(warmUpRuns(400, {})).toBe(400);
    expect(warmUpRuns(200, { BENCH_WARMUP_RUNS: ' ' })).toBe(200);
  });

  it('are what BENCH_WARMUP_RUNS says, none included', () => {
    expect(warmUpRuns(400, { BENCH_WARMUP_RUNS: '25' })).toBe(25);
    expect(warmUpRuns(400, { BENCH_WARMUP_RUNS: '0' })).toBe(0);
  });

  it.each(['-1', '2.5', 'many', '1e400'])('refuse BENCH_WARMUP_RUNS=%s, naming the value', (raw) => {
    expect(() => warmUpRuns(400, { BENCH_WARMUP_RUNS: raw })).toThrow(`BENCH_WARMUP_RUNS must be a whole number of runs, 0 or more; got "${raw}"`);
  });
});
