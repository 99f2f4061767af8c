import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import type { Activities } from '../activities';
import type { Logger } from './logger';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** A prebuilt workflow bundle (tests build it once); otherwise bundled at start. */
  workflowBundle?: { codePath: string };
}

/** Where workflow code lives; bundled by the worker, replayed by Temporal. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** A Temporal worker hosting the trigger-run workflow and the task activities. */
export async function createEngineWorker(options: WorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** Routes the Temporal SDK's own logs into our structured logger. Call once per process. */
export function installTemporalLogging(logger: Logger): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      logger[LEVELS[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}
