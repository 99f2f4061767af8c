import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkCodeSize } from './in-process-sandbox';
import { IsolateSlot } from './isolate-slot';
import { MIN_MEMORY_MB, resolveLimits, resolveOptions } from './limits';
import { SandboxBusyError } from './sandbox-busy-error';
import { SandboxDisposedError } from './sandbox-disposed-error';
import { SandboxStartError } from './sandbox-start-error';
import type { ChildMessage, ParentMessage } from './sandbox-protocol';
import type { ProcessSandbox, SandboxOptions, ScriptRequest, ScriptResult } from './types';

/**
 * How long past a run's own timeout the parent waits before killing the
 * child. The child's watchdog fires 250 ms past the timeout; this covers it
 * plus IPC and a busy machine.
 */
const PARENT_GRACE_MS = 2_000;

interface InFlight {
  id: number;
  child: ChildProcess;
  /** When `run` was called: queue wait and boot are counted from here. */
  queuedAtMs: number;
  /** When the child acknowledged the run; null while it is still booting. The script's timeout counts from here. */
  startedMs: number | null;
  timeoutMs: number;
  resolve: (result: ScriptResult) => void;
  reject: (error: Error) => void;
  /** The start budget until the child acknowledges, then the kill timer. */
  timer: NodeJS.Timeout;
}

const roundMs = (ms: number): number => Math.round(ms * 1_000) / 1_000;

/**
 * One supervised child process hosting isolated-vm isolates, one run at a
 * time: a run costs an IPC round trip on top of a call into a locked-down
 * context, and a script that crashes or wedges V8 costs only a child
 * process. Compile-only syntax checks run in this process (they never
 * execute admin code). `createSandbox` pools several of these.
 *
 * Runs wait in a queue of at most `queueLimit`; past it `run` throws
 * `SandboxBusyError`. A run's timer has two phases: until the child says
 * `started`, the start budget (`startTimeoutMs`, a miss is a retryable
 * `SandboxStartError`); from then on, the script's own timeout plus grace
 * (a miss is `script_timeout`). So a cold start is never the script's fault.
 */
export function createChildSandbox(options?: SandboxOptions): ProcessSandbox {
  const resolved = resolveOptions(options);
  const childOptions = JSON.stringify({
    maxTimeoutMs: resolved.maxTimeoutMs,
    maxMemoryMb: resolved.maxMemoryMb,
    maxRunsPerIsolate: resolved.maxRunsPerIsolate,
    maxCachedScripts: resolved.maxCachedScripts,
    maxIsolates: resolved.maxIsolates,
    bootDelayMs: resolved.bootDelayMs,
  });
  let child: ChildProcess | null = null;
  let inFlight: InFlight | null = null;
  let checker: IsolateSlot | null = null;
  let tail: Promise<unknown> = Promise.resolve();
  let pending = 0;
  let nextId = 0;
  let disposed = false;

  const settle = (run: InFlight, outcome: { result: ScriptResult } | { error: Error }): void => {
    clearTimeout(run.timer);
    if (inFlight === run) inFlight = null;
    child?.unref();
    child?.channel?.unref();
    if ('result' in outcome) run.resolve({ ...outcome.result, queueMs: roundMs((run.startedMs ?? performance.now()) - run.queuedAtMs) });
    else run.reject(outcome.error);
  };

  const failed = (run: InFlight, code: 'script_timeout' | 'script_memory_limit', message: string): { result: ScriptResult } => ({
    result: { ok: false, error: { code, message }, logs: [], durationMs: roundMs(performance.now() - (run.startedMs ?? performance.now())) },
  });

  // The child has the run: from now on only the script's own time counts.
  const started = (run: InFlight): void => {
    clearTimeout(run.timer);
    run.startedMs = performance.now();
    run.timer = setTimeout(() => {
      kill(run.child);
      settle(run, failed(run, 'script_timeout', `the script ran longer than ${run.timeoutMs} ms`));
    }, run.timeoutMs + PARENT_GRACE_MS);
  };

  const kill = (process: ChildProcess): void => {
    if (child === process) child = null;
    process.kill('SIGKILL');
  };

  const spawnChild = (): ChildProcess => {
    const spawned = fork(join(__dirname, 'sandbox-process.ts'), [childOptions], {
      execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href],
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    spawned.on('message', (message: ChildMessage) => {
      if (message.type === 'catastrophic') {
        resolved.onCatastrophicError?.(message.message);
        return;
      }
      const run = inFlight;
      if (run === null || run.child !== spawned || run.id !== message.id) return;
      if (message.type === 'started') {
        started(run);
        return;
      }
      if (message.type === 'failure') {
        settle(run, { error: new Error(`script sandbox failed: ${message.message}`) });
        return;
      }
      // The child abandoned an isolate it could not stop; replace the
      // process before that isolate's thread can do more harm.
      if (message.compromised) kill(spawned);
      settle(run, { result: message.result });
    });
    spawned.on('exit', () => {
      if (child === spawned) child = null;
      const run = inFlight;
      if (run === null || run.child !== spawned) return;
      if (disposed) settle(run, { error: new SandboxDisposedError() });
      else if (run.startedMs === null) settle(run, { error: new SandboxStartError('the process exited before it accepted the run') });
      else settle(run, failed(run, 'script_memory_limit', 'the script crashed the sandbox process (V8 ran out of memory beyond the isolate limit)'));
    });
    return spawned;
  };

  const send = (request: ScriptRequest, timeoutMs: number, queuedAtMs: number): Promise<ScriptResult> => new Promise((resolve, reject) => {
    if (disposed) {
      reject(new SandboxDisposedError());
      return;
    }
    child ??= spawnChild();
    const current = child;
    const run: InFlight = {
      id: ++nextId, child: current, queuedAtMs, startedMs: null, timeoutMs, resolve, reject,
      timer: setTimeout(() => {
        kill(current);
        settle(run, { error: new SandboxStartError(`no answer within ${resolved.startTimeoutMs} ms`) });
      }, resolved.startTimeoutMs),
    };
    inFlight = run;
    current.ref();
    current.channel?.ref();
    const message: ParentMessage = { id: run.id, request };
    current.send(message);
  });

  return {
    async run(request) {
      if (disposed) throw new SandboxDisposedError();
      const calledAtMs = performance.now();
      const { timeoutMs } = resolveLimits(request.limits, resolved);
      const sizeError = checkCodeSize(request.code);
      if (sizeError !== null) return { ok: false, error: sizeError, logs: [], durationMs: roundMs(performance.now() - calledAtMs) };
      // One running plus `queueLimit` waiting; past that, refuse rather than let the backlog grow.
      if (pending > resolved.queueLimit) throw new SandboxBusyError(Math.ceil(resolved.maxTimeoutMs / 1_000), resolved.queueLimit);
      pending += 1;
      const job = tail.then(() => send(request, timeoutMs, calledAtMs));
      tail = job.catch(() => undefined);
      try {
        return await job;
      } finally {
        pending -= 1;
      }
    },

    checkSyntax(code) {
      if (disposed) throw new SandboxDisposedError();
      const sizeError = checkCodeSize(code);
      if (sizeError !== null) return sizeError;
      if (checker === null || !checker.usable) {
        checker = new IsolateSlot({ memoryMb: MIN_MEMORY_MB, maxRunsPerIsolate: Number.MAX_SAFE_INTEGER, maxCachedScripts: resolved.maxCachedScripts });
      }
      const compiled = checker.compile(code);
      return 'error' in compiled ? compiled.error : null;
    },

    childPids() {
      return child?.pid === undefined ? [] : [child.pid];
    },

    dispose() {
      disposed = true;
      if (child !== null) kill(child);
      checker?.dispose();
      checker = null;
    },
  };
}
