/** Why a script run failed. Every code is a USER error: the admin's script is wrong or hostile. */
export type ScriptErrorCode =
  | 'script_syntax'
  | 'script_runtime'
  | 'script_timeout'
  | 'script_memory_limit'
  | 'script_output_invalid'
  | 'script_output_too_large'
  | 'script_code_too_large';

/** A failed run. `line` and `column` are 1-based positions in the admin's own code; `path` names the offending output value. */
export interface ScriptError {
  code: ScriptErrorCode;
  message: string;
  line?: number;
  column?: number;
  path?: string;
}

/**
 * What a script sees, copied in as JSON data. `data` defaults to
 * `event.data`, `reservation` to `data.reservation`, `tasks` to `{}`.
 */
export interface ScriptInput {
  event: unknown;
  data?: unknown;
  reservation?: unknown;
  tasks?: Record<string, unknown>;
  trigger?: { id: string; name: string; version: number };
  /** Earlier tasks' outcomes by task id (`{ status, output?, error? }`); defaults to `{}`. */
  results?: Record<string, unknown>;
  /** Inside a `forEach`: the current item and its index. */
  item?: unknown;
  index?: number;
  /** The account the run is about, when its event names one (`{ ownerId, unit, balance }`). */
  account?: unknown;
  /** The customer profile of the owner the event names, when one exists. */
  customer?: unknown;
}

/** Per-task limits; each must stay within the sandbox maximums (see `checkLimits`). */
export interface ScriptLimits {
  /** Wall time for the whole run, awaits included, in milliseconds. Default 1,000. */
  timeoutMs?: number;
  /** Heap limit of the isolate the run uses, in MB (approximate, as isolated-vm's is). Default 64. */
  memoryMb?: number;
}

/**
 * The outcome of a run. `durationMs` is the run's own wall time in the
 * isolate, the span its timeout applies to. `queueMs` is the time before
 * that: waiting for a free sandbox process, and a cold process booting.
 * Sandboxes that never queue (in-process) leave it out.
 */
export type ScriptResult =
  | { ok: true; output: unknown; logs: string[]; durationMs: number; queueMs?: number }
  | { ok: false; error: ScriptError; logs: string[]; durationMs: number; queueMs?: number };

/** A request to run one script. */
export interface ScriptRequest {
  code: string;
  input: ScriptInput;
  limits?: ScriptLimits;
}

/** Server-level configuration of a sandbox. Every field is optional; defaults are in `limits.ts`. */
export interface SandboxOptions {
  /** Largest `timeoutMs` a task may ask for. Default 10,000. */
  maxTimeoutMs?: number;
  /** Largest `memoryMb` a task may ask for. Default 256. */
  maxMemoryMb?: number;
  /** Runs served by one isolate before it is replaced by a fresh one. Default 10,000 (see README, "Isolate"). */
  maxRunsPerIsolate?: number;
  /** Distinct compiled scripts kept per isolate (least recently used are dropped). Default 256. */
  maxCachedScripts?: number;
  /** Isolates kept alive at once, one per distinct `memoryMb` in use. Default 4. */
  maxIsolates?: number;
  /** Child processes running scripts side by side, so one slow script does not hold up the rest. Default 2, at most 16. */
  processes?: number;
  /**
   * Runs waiting per child process, beyond the one it is running. Past it
   * `run` throws `SandboxBusyError` at once instead of queueing, so a
   * backlog can never outlast its callers' own timeouts. Default 4, at most 64.
   */
  queueLimit?: number;
  /**
   * How long a child process may take to boot and acknowledge a run, in
   * milliseconds. The script's timeout starts only at that acknowledgement;
   * past this budget the run throws `SandboxStartError` (retryable). Default 10,000.
   */
  startTimeoutMs?: number;
  /**
   * During a burst of runs (each requested within 1 ms of the previous
   * answer, with no other run of this process in flight), how long each end
   * of the channel to a child process polls for the other's next frame
   * before parking in its event loop, in microseconds. Each end keeps its
   * core busy for at most this long per run, and only in a burst; it saves
   * the wake-up of a parked process, about a third of a short run. 0 never
   * polls. Default 100 (0 on a single core), at most 2,000.
   */
  burstPollUs?: number;
  /** Tests only: the child process waits this long before it accepts runs, to simulate a slow cold start. */
  bootDelayMs?: number;
  /** Called when isolated-vm reports that V8 lost control of an isolate; the run fails and the isolate is replaced. */
  onCatastrophicError?: (message: string) => void;
}

/** The only place admin code runs. */
export interface Sandbox {
  /**
   * Runs one script. Never throws for anything the script does; throws
   * `SandboxBusyError` when its queue is full, `SandboxStartError` when a
   * process could not start and `SandboxStoppedError` when a process was
   * stopped by something other than the script before it answered (all
   * ENGINE conditions, worth retrying later).
   */
  run(request: ScriptRequest): Promise<ScriptResult>;
  /** Compile-only check used when a trigger is saved; null when the code compiles. */
  checkSyntax(code: string): ScriptError | null;
  /** Releases every isolate. Runs in flight fail; later calls throw. */
  dispose(): void;
}

/** A sandbox whose scripts run in supervised child processes (`createSandbox`, `createChildSandbox`). */
export interface ProcessSandbox extends Sandbox {
  /**
   * The process ids of the child processes alive now, at most one per
   * process the sandbox may start; a child that has not started yet (they
   * start on first use) or was killed is absent, and a replacement shows
   * its own pid. For tests and diagnostics that must observe the process a
   * script ran in, such as its memory, rather than the caller's process.
   */
  childPids(): number[];
}
