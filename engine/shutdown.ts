import type { Logger } from './logger';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs the cleanup steps once on the first termination signal, in order, and
 * exits. A step that hangs cannot keep the process alive past `timeoutMs`.
 */
export function onShutdown(logger: Logger, timeoutMs: number, cleanup: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    cleanup().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.once(signal, () => stop(signal));
}

/** Prints a startup failure as one line (no stack for expected errors) and exits. */
export function exitOnStartupError(name: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(1);
}
