import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ivm from 'isolated-vm';
import { SCRIPT_FILE, SCRIPT_PARAMS, WRAPPED_ORIGIN, syntaxErrorFromCompile, wrapScript } from './compile-script';
import { MAX_LOG_BYTES, MAX_LOG_LINES, MAX_OUTPUT_BYTES } from './limits';
import type { ScriptError } from './types';

const RUNTIME_SOURCE = readFileSync(join(__dirname, 'isolate-runtime.js'), 'utf8');

/** Limits the in-isolate runtime enforces on what leaves the isolate. */
const RUNTIME_CONFIG = JSON.stringify({
  scriptFile: SCRIPT_FILE,
  scriptParams: SCRIPT_PARAMS,
  maxLogLines: MAX_LOG_LINES,
  maxLogBytes: MAX_LOG_BYTES,
  maxOutputBytes: MAX_OUTPUT_BYTES,
  // Every JSON value takes at least two bytes once separators are counted,
  // so more values than this cannot fit in maxOutputBytes.
  maxOutputNodes: Math.floor((MAX_OUTPUT_BYTES + 1) / 2),
  maxOutputDepth: 256,
  maxErrorMessageBytes: 2_048,
});

/** Bound on host-side calls into the isolate that run no admin code (compile checks, collecting a result). */
const RUNTIME_CALL_TIMEOUT_MS = 1_000;
/** The watchdog fires this long after the run's own timeout, only if isolated-vm's timeout failed to end the run. */
export const WATCHDOG_GRACE_MS = 250;
/** How often (in runs) the isolate's heap is checked for growth, and the share of its limit that retires it. */
const HEAP_CHECK_EVERY_RUNS = 64;
const HEAP_RETIRE_RATIO = 0.5;

/**
 * The message of an error isolated-vm hands back. Such errors are created in
 * the host's main realm, so `instanceof Error` fails in other realms (jest's
 * test contexts among them); read the field instead.
 */
function messageOf(error: unknown): string {
  const message = typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
}

/** A compiled script: a reference to its frozen function in this isolate. */
export type CompiledScript = ivm.Reference<unknown>;

/** What the runtime reports for one run (the JSON `collect` returns). */
export type Envelope =
  | { ok: true; logs: string[]; output: unknown }
  | { ok: false; logs: string[]; error: ScriptError }
  | { pending: true; logs: string[] };

/** How one run ended, before it is turned into a ScriptResult. `json` is the settled envelope as the runtime wrote it. */
export type RunOutcome =
  | { kind: 'settled'; json: string }
  | { kind: 'timeout'; stalled: boolean; logs: string[]; abandoned?: boolean }
  | { kind: 'memory_limit' }
  | { kind: 'shutdown' };

/** Options a slot needs from the sandbox. */
export interface SlotOptions {
  memoryMb: number;
  maxRunsPerIsolate: number;
  maxCachedScripts: number;
  onCatastrophicError?: (message: string) => void;
  /**
   * Runs call into the isolate synchronously on this thread (`executeSync`),
   * so the caller must watch them from another thread. No catastrophic-error
   * handler is installed: with one, isolated-vm parks the thread that hit a
   * V8 out-of-memory forever (here the hosting process's only JS thread);
   * without one, V8 aborts the process, which its parent reports.
   */
  syncRuns?: boolean;
}

/** What `executeSync` needs from the thread watching it: a deadline for the call about to block, and its end. */
export interface RunGuard {
  arm(ms: number): void;
}

/**
 * One isolate with one locked-down context, shared by runs one at a time.
 * It caches compiled scripts, runs them under a timeout and a watchdog, and
 * retires itself (the sandbox then makes a fresh one) after a timeout, a
 * memory-limit kill, a bounded number of runs, or heap growth.
 */
export class IsolateSlot {
  readonly memoryMb: number;
  private readonly isolate: ivm.Isolate;
  private readonly context: ivm.Context;
  private readonly start: ivm.Reference<unknown>;
  private readonly collect: ivm.Reference<unknown>;
  private readonly checkBody: ivm.Reference<unknown>;
  private readonly scripts = new Map<string, CompiledScript>();
  private readonly options: SlotOptions;
  private runs = 0;
  private retired = false;
  private disposedByHost = false;
  private abortRun: ((outcome: RunOutcome) => void) | null = null;

  constructor(options: SlotOptions) {
    this.options = options;
    this.memoryMb = options.memoryMb;
    this.isolate = new ivm.Isolate(options.syncRuns === true
      ? { memoryLimit: options.memoryMb }
      : { memoryLimit: options.memoryMb, onCatastrophicError: (message) => this.onCatastrophicError(message) });
    try {
      this.context = this.isolate.createContextSync();
      const bootstrap = this.isolate
        .compileScriptSync(RUNTIME_SOURCE, { filename: 'sandbox-runtime.js' })
        .runSync(this.context, { reference: true, release: true }) as ivm.Reference<unknown>;
      const protocol = bootstrap.applySync(undefined, [RUNTIME_CONFIG], { result: { reference: true } }) as ivm.Reference<unknown>;
      bootstrap.release();
      this.start = protocol.getSync('start' as never, { reference: true }) as ivm.Reference<unknown>;
      this.collect = protocol.getSync('collect' as never, { reference: true }) as ivm.Reference<unknown>;
      this.checkBody = protocol.getSync('checkBody' as never, { reference: true }) as ivm.Reference<unknown>;
      protocol.release();
    } catch (error) {
      this.isolate.dispose();
      throw error;
    }
  }

  /** False once the slot must not take new runs; the sandbox replaces it. */
  get usable(): boolean {
    return !this.retired && !this.isolate.isDisposed;
  }

  /**
   * Compiles a function body, or explains why it does not compile. The body
   * is checked on its own first, so code that tries to close the wrapper
   * early is refused before anything is evaluated.
   */
  compile(code: string): { script: CompiledScript } | { error: ScriptError } {
    const cached = this.scripts.get(code);
    if (cached !== undefined) {
      this.scripts.delete(code);
      this.scripts.set(code, cached);
      return { script: cached };
    }
    const bodyProblem = this.checkBody.applySync(undefined, [code], { timeout: RUNTIME_CALL_TIMEOUT_MS }) as string | null;
    let compiled: ivm.Script;
    try {
      compiled = this.isolate.compileScriptSync(wrapScript(code), WRAPPED_ORIGIN);
    } catch (error) {
      return { error: syntaxErrorFromCompile(code, messageOf(error)) };
    }
    if (bodyProblem !== null) {
      compiled.release();
      return { error: { code: 'script_syntax', message: `SyntaxError: ${bodyProblem}` } };
    }
    const script = compiled.runSync(this.context, { reference: true, release: true, timeout: RUNTIME_CALL_TIMEOUT_MS }) as CompiledScript;
    this.scripts.set(code, script);
    if (this.scripts.size > this.options.maxCachedScripts) {
      const [oldestCode, oldest] = this.scripts.entries().next().value as [string, CompiledScript];
      this.scripts.delete(oldestCode);
      oldest.release();
    }
    return { script };
  }

  /**
   * Runs a compiled script on JSON input. The script, its awaits and every
   * microtask it queues all run inside one isolate task bounded by
   * isolated-vm's timeout; the watchdog disposes the isolate if that bound
   * ever fails to hold.
   */
  async execute(script: CompiledScript, inputJson: string, timeoutMs: number): Promise<RunOutcome> {
    this.runs++;
    const startedMs = performance.now();
    let watchdog: NodeJS.Timeout | undefined;
    const aborted = new Promise<RunOutcome>((resolve) => {
      this.abortRun = resolve;
      watchdog = setTimeout(() => {
        this.retire();
        resolve({ kind: 'timeout', stalled: false, logs: [], abandoned: true });
      }, timeoutMs + WATCHDOG_GRACE_MS);
    });
    const applied = this.start
      .apply(undefined, [script.derefInto(), inputJson], { timeout: timeoutMs })
      .then(() => null, (error: unknown) => new Error(messageOf(error)));
    try {
      const first = await Promise.race([applied, aborted]);
      if (first !== null && !(first instanceof Error)) return first;
      return this.afterStart(first, performance.now() - startedMs >= timeoutMs);
    } finally {
      clearTimeout(watchdog);
      this.abortRun = null;
      this.retireIfWorn();
    }
  }

  /**
   * `execute` without leaving this thread: the isolate runs on the calling
   * thread, which saves isolated-vm's two thread hops per run (about 40 us)
   * but blocks the thread until the run ends. isolated-vm's timeout still
   * ends the run; for the builtins it cannot stop, `guard` must arrange for
   * another thread to act (sandbox-process.ts answers for the run and has the
   * process replaced). Only for slots created with `syncRuns`.
   */
  executeSync(script: CompiledScript, inputJson: string, timeoutMs: number, guard: RunGuard): RunOutcome {
    this.runs++;
    const startedMs = performance.now();
    let startError: Error | null = null;
    try {
      guard.arm(timeoutMs);
      this.start.applySync(undefined, [script.derefInto(), inputJson], { timeout: timeoutMs });
    } catch (error) {
      startError = new Error(messageOf(error));
    }
    try {
      guard.arm(RUNTIME_CALL_TIMEOUT_MS);
      return this.afterStart(startError, performance.now() - startedMs >= timeoutMs);
    } finally {
      this.retireIfWorn();
    }
  }

  /** Reads the outcome once the start task has ended, normally or not. */
  private afterStart(startError: Error | null, outOfTime: boolean): RunOutcome {
    if (this.disposedByHost) return { kind: 'shutdown' };
    if (this.isolate.isDisposed) return { kind: 'memory_limit' };
    let json: string | null;
    try {
      json = this.collect.applySync(undefined, [], { timeout: RUNTIME_CALL_TIMEOUT_MS }) as string | null;
    } catch {
      this.retire();
      return { kind: 'timeout', stalled: false, logs: [] };
    }
    // The common case, a settled run whose task ended cleanly, passes the
    // runtime's JSON through unparsed.
    if (startError === null && json !== null && json.startsWith('{"ok":')) return { kind: 'settled', json };
    const envelope = json === null ? null : (JSON.parse(json) as Envelope);
    if (startError !== null && outOfTime) {
      // Cut off by the timeout: even a script that already returned may have
      // left microtasks spinning, and the isolate stopped at an unknown point.
      this.retire();
      return { kind: 'timeout', stalled: false, logs: envelope?.logs ?? [] };
    }
    if (envelope === null || 'pending' in envelope) {
      // A pending run after a failed task was cut off by the timeout (or
      // stalled as well); after a clean task it awaits a promise nothing
      // can ever settle. Either way it is out of time.
      if (startError !== null) this.retire();
      return { kind: 'timeout', stalled: startError === null || !outOfTime, logs: envelope?.logs ?? [] };
    }
    if (startError !== null) {
      // isolated-vm reports a promise rejected and never handled during the
      // task as the task's error. The script's own result stands; the
      // rejection is surfaced in its logs, as a browser console would.
      envelope.logs.push(`[error] unhandled promise rejection: ${startError.message.slice(0, 1_024)}`);
    }
    return { kind: 'settled', json: JSON.stringify(envelope) };
  }

  /** Stops taking runs and frees the isolate (a run in flight ends as `shutdown`). */
  dispose(): void {
    this.disposedByHost = true;
    this.retired = true;
    this.abortRun?.({ kind: 'shutdown' });
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  /** Frees the isolate after a run that may have left it in an unknown state. */
  private retire(): void {
    this.retired = true;
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  private retireIfWorn(): void {
    if (this.isolate.isDisposed) {
      this.retired = true;
      return;
    }
    if (this.runs >= this.options.maxRunsPerIsolate) {
      this.retire();
      return;
    }
    if (this.runs % HEAP_CHECK_EVERY_RUNS === 0) {
      const heap = this.isolate.getHeapStatisticsSync();
      if (heap.used_heap_size + heap.externally_allocated_size > this.memoryMb * 1024 * 1024 * HEAP_RETIRE_RATIO) this.retire();
    }
  }

  /**
   * isolated-vm calls this when V8 has lost control of the isolate. The run
   * in flight fails as a memory-limit failure at once (never waiting on an
   * isolate that will not answer) and the slot is replaced.
   */
  private onCatastrophicError(message: string): void {
    this.retired = true;
    this.abortRun?.({ kind: 'memory_limit' });
    this.options.onCatastrophicError?.(message);
  }
}
