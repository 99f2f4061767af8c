// The speed goals the team set (issue 17), in one place: the benchmarks that
// print a target read it from here, and `npm run bench` checks each figure
// against it.

/** Top-up runs per second through the whole stack, at least this times the bare three-activity workflow's, 16 in flight. */
export const E2E_MIN_THROUGHPUT_RATIO = 1.0;

/** One top-up at a time with a zero wait: POST /v1/events to its ledger entry's postedAt, p50 and p90, in ms. */
export const POST_TO_LEDGER_MAX_P50_MS = 100;
export const POST_TO_LEDGER_MAX_P90_MS = 150;

/** One event at a time: POST /v1/events until its answer, p50 in ms. */
export const POST_EVENT_MAX_P50_MS = 25;

/** The default sandbox's p50 per run, at most this times a fresh node:vm context's. */
export const SANDBOX_MAX_P50_RATIO = 0.25;

/** The default sandbox's p99 per run, in microseconds. */
export const SANDBOX_MAX_P99_US = 1_000;

/** Growth of the whole worker process's RSS over WORKER_RSS_GROWTH_RUNS workflow runs, settled with a forced GC, in MB. */
export const WORKER_MAX_RSS_GROWTH_MB = 20;
/** The runs the RSS growth goal is set over (the top-up, run to its result). */
export const WORKER_RSS_GROWTH_RUNS = 10_000;

/** Postings spread over many accounts, at least this times raw inserts into the same store at the same concurrency. */
export const LEDGER_MIN_SPREAD_RATIO = 0.5;

/** Subscriptions one renewal firing must renew within the task's start-to-close timeout. */
export const RENEWALS_PER_FIRING = 10_000;
