/**
 * The Prometheus series Creditflow exposes on `GET /metrics` (the API, and
 * the worker on METRICS_PORT). One registry per process, built at start and
 * passed down; the decorators below count at the seams (ledger, sandbox,
 * mailer, activities) so the domain code stays free of metrics calls.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Ledger } from './ledger';
import type { Mailer } from './mail/mailer';
import type { Sandbox, ScriptErrorCode } from '../scripts-sandbox';

/** Distinct values one client-controlled label (the event type) may take; later ones count as `other`. */
const MAX_LABEL_VALUES = 200;
const OVERFLOW_LABEL = 'other';

/** Seconds; task and script runs span from under a millisecond to minutes. */
const DURATION_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** How an event POST ended: runs started, a duplicate, nothing listening, only cancellations, or refused. */
export type EventOutcome = 'started' | 'duplicate' | 'no_match' | 'signalled' | 'rejected' | 'rate_limited';
/** How a run closed. */
export type RunClosedStatus = 'completed' | 'failed' | 'cancelled';
export type SandboxOutcome = 'ok' | 'timeout' | 'memory' | 'error';

export interface Metrics {
  readonly registry: Registry;
  event(type: string, outcome: EventOutcome): void;
  runStarted(triggerId: string): void;
  runClosed(triggerId: string, status: RunClosedStatus): void;
  task(taskType: string, outcome: 'ok' | 'error', seconds: number): void;
  /** `outcome` is `posted`, `replayed`, or the refusal's code (`insufficient_funds`, ...). */
  posting(direction: string, outcome: string): void;
  sandboxRun(outcome: SandboxOutcome, queueWaitSeconds: number): void;
  email(outcome: 'sent' | 'failed'): void;
}

/**
 * A registry with Creditflow's series and Node's process metrics
 * (`process_cpu_seconds_total`, heap, event loop lag), labelled with the
 * process role so API and worker scrapes can be told apart.
 */
export function createMetrics(role: 'api' | 'worker'): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: `creditflow-${role}` });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const events = new Counter({ name: 'creditflow_events_received_total', help: 'Events posted to /v1/events, by type and outcome.', labelNames: ['type', 'outcome'], registers });
  const runsStarted = new Counter({ name: 'creditflow_runs_started_total', help: 'Runs started, by trigger.', labelNames: ['trigger_id'], registers });
  const runsClosed = new Counter({ name: 'creditflow_runs_closed_total', help: 'Runs that closed, by trigger and status (completed, failed, cancelled).', labelNames: ['trigger_id', 'status'], registers });
  const tasks = new Histogram({ name: 'creditflow_task_duration_seconds', help: 'Task attempts as activities, by task type and outcome.', labelNames: ['task_type', 'outcome'], buckets: DURATION_BUCKETS_S, registers });
  const postings = new Counter({ name: 'creditflow_ledger_postings_total', help: 'Ledger postings by direction and outcome: posted, replayed, or the refusal code.', labelNames: ['direction', 'outcome'], registers });
  const sandboxRuns = new Counter({ name: 'creditflow_sandbox_runs_total', help: 'Script runs by outcome: ok, timeout, memory, error.', labelNames: ['outcome'], registers });
  const sandboxWait = new Histogram({ name: 'creditflow_sandbox_queue_wait_seconds', help: 'Time a script waited for a free sandbox process.', buckets: DURATION_BUCKETS_S, registers });
  const emails = new Counter({ name: 'creditflow_emails_total', help: 'Emails handed to the SMTP server (sent) or refused by it (failed).', labelNames: ['outcome'], registers });
  const eventType = boundedLabel();
  return {
    registry,
    event: (type, outcome) => events.inc({ type: eventType(type), outcome }),
    runStarted: (triggerId) => runsStarted.inc({ trigger_id: triggerId }),
    runClosed: (triggerId, status) => runsClosed.inc({ trigger_id: triggerId, status }),
    task: (taskType, outcome, seconds) => tasks.observe({ task_type: taskType, outcome }, seconds),
    posting: (direction, outcome) => postings.inc({ direction, outcome }),
    sandboxRun: (outcome, queueWaitSeconds) => {
      sandboxRuns.inc({ outcome });
      sandboxWait.observe(queueWaitSeconds);
    },
    email: (outcome) => emails.inc({ outcome }),
  };
}

/** Maps a client-controlled value to itself for the first MAX_LABEL_VALUES distinct values, then to `other`. */
function boundedLabel(): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= MAX_LABEL_VALUES) return OVERFLOW_LABEL;
    seen.add(value);
    return value;
  };
}

/** Counts every posting's (and transfer's) outcome; the ledger's answers and errors pass through unchanged. */
export function meteredLedger<L extends Pick<Ledger, 'post'> & Partial<Pick<Ledger, 'transfer'>>>(ledger: L, metrics: Metrics): L {
  async function counted<T extends { replayed: boolean }>(direction: string, operation: () => Promise<T>): Promise<T> {
    try {
      const result = await operation();
      metrics.posting(direction, result.replayed ? 'replayed' : 'posted');
      return result;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      metrics.posting(direction, typeof code === 'string' ? code : 'error');
      throw error;
    }
  }
  const post: Ledger['post'] = (request) => counted(request.direction, () => ledger.post(request));
  const transfer: Ledger['transfer'] = (request) => counted('transfer', () => ledger.transfer!(request));
  return Object.assign(Object.create(ledger) as L, { post, ...(ledger.transfer ? { transfer } : {}) });
}

const SANDBOX_OUTCOMES: Partial<Record<ScriptErrorCode, SandboxOutcome>> = { script_timeout: 'timeout', script_memory_limit: 'memory' };

/** Counts script runs by outcome, with the wait for a free process (wall time minus the run's own time). */
export function meteredSandbox<S extends Pick<Sandbox, 'run'>>(sandbox: S, metrics: Metrics): S {
  const run: Sandbox['run'] = async (request) => {
    const startedAt = performance.now();
    const result = await sandbox.run(request);
    const waitMs = Math.max(0, performance.now() - startedAt - result.durationMs);
    metrics.sandboxRun(result.ok ? 'ok' : (SANDBOX_OUTCOMES[result.error.code] ?? 'error'), waitMs / 1000);
    return result;
  };
  return Object.assign(Object.create(sandbox) as S, { run });
}

/** Counts messages the SMTP server accepted or refused. */
export function meteredMailer(mailer: Mailer, metrics: Metrics): Mailer {
  return {
    async send(message) {
      try {
        await mailer.send(message);
        metrics.email('sent');
      } catch (error) {
        metrics.email('failed');
        throw error;
      }
    },
    isFailing: () => mailer.isFailing(),
    close: () => mailer.close(),
  };
}

/** Wraps each activity so every attempt's duration is observed by task type and outcome. */
export function meteredActivities<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A, taskTypes: Record<string, string>, metrics: Metrics): A {
  const wrapped: Record<string, unknown> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const taskType = taskTypes[name] ?? name;
    wrapped[name] = async (...args: never[]) => {
      const startedAt = performance.now();
      try {
        const result = await activity(...args);
        metrics.task(taskType, 'ok', (performance.now() - startedAt) / 1000);
        return result;
      } catch (error) {
        metrics.task(taskType, 'error', (performance.now() - startedAt) / 1000);
        throw error;
      }
    };
  }
  return wrapped as A;
}
