/**
 * Raised when a booted sandbox child process stopped before it answered for
 * a run, and not because of the script: killed from outside (the kernel's
 * OOM killer, an operator, a deploy), exited on its own, or its channel
 * broke. The parent cannot tell whether the child had begun the run (it
 * writes the run without waiting for an acknowledgement), but a script is
 * pure compute, so running it again is safe: an ENGINE condition, callers
 * retry. A child that V8 aborted (a fatal error or out-of-memory in the
 * script's isolate) is the script's fault and is `script_memory_limit`
 * instead; a child the parent killed for a timeout is `script_timeout`.
 */
export class SandboxStoppedError extends Error {
  readonly code = 'sandbox_stopped';
  readonly retryable = true;
  constructor(
    /** How the process ended: its signal (`SIGKILL`) or `exit code n`. */
    readonly exit: string,
  ) {
    super(`the script sandbox process stopped before it answered the run (${exit}); the script was not at fault, retry it`);
    this.name = 'SandboxStoppedError';
  }
}
