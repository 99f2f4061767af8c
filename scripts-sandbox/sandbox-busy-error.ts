/**
 * Raised when a sandbox's queue is full: an ENGINE condition (too much work
 * at once), not the script's fault, so callers retry later. The API answers
 * 503 with `Retry-After`; a script task fails retryably and Temporal retries.
 */
export class SandboxBusyError extends Error {
  readonly code = 'sandbox_busy';
  readonly retryable = true;
  constructor(
    /** A hint for when to try again: the longest a run ahead in the queue may take, in whole seconds. */
    readonly retryAfterSeconds: number,
    queueLimit: number,
  ) {
    super(`the script sandbox is busy (${queueLimit} runs already waiting per process); retry in ${retryAfterSeconds} s`);
    this.name = 'SandboxBusyError';
  }
}
