import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** Where the worker process kills itself (SIGKILL), to test what a crash at that point leaves. */
export type CrashPoint = 'none' | 'after-post' | 'after-transfer-debit';

/**
 * A real worker in its own process (test/support/worker-process.ts) on the
 * test's database and task queue; resolves once it polls. With `firings`
 * it also runs schedule firings (as the product's worker does); `env` adds
 * to or overrides (undefined: removes) this process's environment.
 */
export function spawnWorkerProcess(options: { dbName: string; taskQueue: string; crash: CrashPoint; firings?: boolean; env?: Record<string, string | undefined> }): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
    env: {
      ...process.env,
      ...options.env,
      TEST_DB_NAME: options.dbName,
      TEST_TASK_QUEUE: options.taskQueue,
      CRASH_AFTER_POST: options.crash === 'after-post' ? '1' : '0',
      CRASH_AFTER_TRANSFER_DEBIT: options.crash === 'after-transfer-debit' ? '1' : '0',
      WITH_FIRINGS: options.firings ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('worker ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
  });
}

/** Resolves once the process has exited (at once if it already has). */
export function processExited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}
