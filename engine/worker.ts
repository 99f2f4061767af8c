import v8 from 'node:v8';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type InjectedSinks, type LogLevel } from '@temporalio/worker';
import type { Activities } from '../activities';
import type { RunSinks } from '../workflows/types';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** A prebuilt workflow bundle (tests and the worker entry build it once); otherwise bundled here. */
  workflowBundle?: { codePath: string } | { code: string };
  /** Counts closed runs; without it, runs report nothing outside their history. */
  metrics?: Pick<Metrics, 'runClosed'>;
  /**
   * The script sandbox's processes; the worker runs at most
   * `localActivitySlots(processes)` local activities (scripts and postings)
   * at once. Default: the SDK's limit (100).
   */
  sandboxProcesses?: number;
}

/**
 * Local activities (script tasks and ledger postings) a worker runs at once:
 * two per sandbox process. A script waits in the sandbox queue behind at
 * most one other script on its process, and that wait counts against its
 * 30 s startToClose: one script of at most 10 s (the sandbox's maximum
 * timeout) ahead of it plus its own 10 s stays well within. Local activities
 * past the limit wait in the workflow, where no timeout runs. Postings take
 * milliseconds, so their share of the slots costs them little.
 */
export function localActivitySlots(sandboxProcesses: number): number {
  return 2 * sandboxProcesses;
}

/** Where workflow code lives; bundled by the worker, replayed by Temporal. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Modules each workflow thread evaluates once and shares between runs (the
 * SDK's `preloadModules`, for its reusable V8 context, the default) instead
 * of evaluating them again for every new run. workflows/query.ts brings in
 * mingo, the query engine of task conditions: 293 of the bundle's 384
 * modules, and most of what a new run cost its workflow thread. Only modules
 * that keep no state a run changes may be listed: the SDK freezes their
 * exports, and every run of the thread sees the same instance. Every bundle
 * of the workflows (the worker's, the tests', the benchmarks') is built with
 * these options.
 */
export const WORKFLOW_BUNDLER_OPTIONS = { preloadModules: [require.resolve('../workflows/query')] };

/**
 * The largest semi-space of a workflow thread's young generation, in MB.
 * V8 sizes the young generation from the machine's memory: on 24 GB it let
 * each workflow thread's new space grow to about 120 MB within a worker's
 * first thousand runs and keep it, empty after every full collection, which
 * was most of a worker's RSS growth (`npm run bench:worker-memory`). 16 MB,
 * V8's fixed default for years, keeps it at 32 MB.
 */
export const WORKFLOW_THREAD_SEMI_SPACE_MB = 16;

/**
 * Caps the young generation of every V8 isolate this process creates from
 * now on, which the SDK's workflow threads are (it takes no heap limits of
 * its own for them). Isolates already running, this process's main thread
 * among them, keep theirs. A `--max-semi-space-size` given to node by the
 * operator wins.
 */
export function capWorkflowThreadYoungGeneration(): void {
  // V8 takes its flags with dashes or underscores.
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => arg.replaceAll('_', '-').startsWith('--max-semi-space-size'));
  if (!given) v8.setFlagsFromString(`--max-semi-space-size=${WORKFLOW_THREAD_SEMI_SPACE_MB}`);
}

/** A Temporal worker hosting the trigger-run workflow and the task activities. */
export async function createEngineWorker(options: WorkerOptions): Promise<Worker> {
  capWorkflowThreadYoungGeneration();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    sinks: runSinks(options.metrics),
    ...(options.sandboxProcesses !== undefined ? { maxConcurrentLocalActivityExecutions: localActivitySlots(options.sandboxProcesses) } : {}),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS }),
  });
}

/** The worker side of the runs' sinks; not called during replay, so a run counts once. */
export function runSinks(metrics: Pick<Metrics, 'runClosed'> | undefined): InjectedSinks<RunSinks> {
  return {
    runMetrics: {
      closed: { fn: (_info, triggerId, status) => metrics?.runClosed(triggerId, status), callDuringReplay: false },
    },
  };
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * Installs the Temporal SDK runtime once per process: its logs go to our
 * structured logger, and with `metricsAddress` (`host:port`) its worker
 * metrics are served there in Prometheus format (seconds, `_total` counters).
 */
export function installTemporalRuntime(logger: Logger, options: { metricsAddress?: string } = {}): void {
  Runtime.install({
    logger: sdkLogger(logger, 'INFO'),
    ...(options.metricsAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } }
      : {}),
  });
}

/** The SDK's logger, writing into ours from `level` up. */
function sdkLogger(logger: Logger, level: LogLevel): DefaultLogger {
  return new DefaultLogger(level, (entry) => {
    logger[LEVELS[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
  });
}

/**
 * Bundles the workflow code once and reports it in one line; the bundler's
 * multi-line webpack report is left out (its warnings and errors are kept).
 */
export async function bundleWorkflows(logger: Logger): Promise<{ code: string }> {
  const startedAt = Date.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: sdkLogger(logger.child({ component: 'bundler' }), 'WARN') });
  logger.info({ sizeKb: Math.round(code.length / 1024), ms: Date.now() - startedAt }, 'workflow bundle built');
  return { code };
}
