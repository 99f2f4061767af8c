/**
 * Raised when a sandbox child process did not boot and acknowledge a run
 * within its start budget, or died before doing so. The script never ran,
 * so this is an ENGINE condition and never `script_timeout`: callers retry.
 */
export class SandboxStartError extends Error {
  readonly code = 'sandbox_start_failed';
  readonly retryable = true;
  constructor(reason: string) {
    super(`the script sandbox process did not start: ${reason}`);
    this.name = 'SandboxStartError';
  }
}
