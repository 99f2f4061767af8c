// The speed goals the team set (issue 17), in one place: the benchmarks that
// print a target read it from here, and `npm run bench` checks each figure
// against it.

/** Top-up runs per second through the whole stack, at least this times the bare three-activity workflow's, 16 in flight. */
export const E2E_MIN_THROUGHPUT_RATIO = 1.0;

/** The default sandbox's p50 per run, at most this times a fresh node:vm context's. */
export const SANDBOX_MAX_P50_RATIO = 0.25;

/** The default sandbox's p99 per run, in microseconds. */
export const SANDBOX_MAX_P99_US = 1_000;

/** Growth of the worker's RSS over 10,000 sandbox runs, in MB. */
export const WORKER_MAX_RSS_GROWTH_MB = 20;

/** Postings spread over many accounts, at least this times raw inserts into the same store at the same concurrency. */
export const LEDGER_MIN_SPREAD_RATIO = 0.5;

/** Subscriptions one renewal firing must renew within the task's start-to-close timeout. */
export const RENEWALS_PER_FIRING = 10_000;
