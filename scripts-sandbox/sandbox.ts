import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BURST_GAP_MS, pollChannel, socketFd } from './channel-poll';
import { checkCodeSize, serializeInput } from './in-process-sandbox';
import { IsolateSlot } from './isolate-slot';
import { MIN_MEMORY_MB, resolveLimits, resolveOptions } from './limits';
import { SandboxBusyError } from './sandbox-busy-error';
import { SandboxDisposedError } from './sandbox-disposed-error';
import { SandboxStartError } from './sandbox-start-error';
import { SandboxStoppedError } from './sandbox-stopped-error';
import { CHANNEL_FD, decodeChildFrame, encodeRequest, FrameReader, type ChildFrame } from './sandbox-protocol';
import type { ProcessSandbox, SandboxOptions, ScriptResult } from './types';

/**
 * How long past a run's own timeout the parent waits before killing the
 * child. The child's watchdog fires 250 to 300 ms past the timeout; this
 * covers it plus the channel and a busy machine.
 */
const PARENT_GRACE_MS = 2_000;

/**
 * How a child ends when V8 gives up on the script it runs: isolated-vm's
 * and Node's out-of-memory handlers call abort() (SIGABRT), and a V8 fatal
 * error such as `'x'.repeat(2 ** 28).split('')` ("invalid size error")
 * traps (SIGTRAP). 134 and 133 are the same deaths reported as 128 + the
 * signal (through a shell).
 */
const V8_ABORT_SIGNALS: ReadonlySet<string> = new Set(['SIGABRT', 'SIGTRAP']);
const V8_ABORT_EXIT_CODES: ReadonlySet<number> = new Set([134, 133]);

/**
 * Whether a child's end is V8 aborting it over the script it ran (then the
 * run is `script_memory_limit`). Any other end is not the script's doing:
 * SIGKILL or SIGTERM from outside (the kernel's OOM killer, an operator, a
 * deploy), an exit code, a broken channel.
 */
export function abortedByV8(exitCode: number | null, signal: string | null): boolean {
  return signal !== null ? V8_ABORT_SIGNALS.has(signal) : exitCode !== null && V8_ABORT_EXIT_CODES.has(exitCode);
}

/** A child's end as reported in errors: `SIGKILL`, or `exit code 1`. */
const describeExit = (exitCode: number | null, signal: string | null): string => signal ?? `exit code ${String(exitCode)}`;

/** A child process and its end of the frame channel. */
interface Child {
  process: ChildProcess;
  channel: Socket;
  /** Feeds bytes read from the channel, by its 'data' event or by a poll, to the child's frame reader. */
  readChunk: (chunk: Buffer) => void;
  /** True once the child has booted and reads the channel: a run handed to it starts at once. */
  ready: boolean;
  /** Why the parent killed it while it was alive and well, without settling its run itself (a malformed frame). */
  killedBecause: string | null;
}

interface InFlight {
  id: number;
  child: Child;
  /** When `run` was called: queue wait and boot are counted from here. */
  queuedAtMs: number;
  /** When a booted child was handed the run; null while the child is still booting. The script's timeout counts from here. */
  startedMs: number | null;
  timeoutMs: number;
  resolve: (result: ScriptResult) => void;
  reject: (error: Error) => void;
  /** When the run fails (performance.now()): the start budget's end while the child boots, then the script's timeout plus grace. */
  deadlineMs: number;
}

const roundMs = (ms: number): number => Math.round(ms * 1_000) / 1_000;

/** Runs handed to a child and not yet settled, over every child sandbox of this process. */
let runsInFlight = 0;

/**
 * One supervised child process hosting isolated-vm isolates, one run at a
 * time: a run costs one frame each way over a socket pair on top of a call
 * into a locked-down context, and a script that crashes or wedges V8 costs
 * only a child process. Compile-only syntax checks run in this process (they never
 * execute admin code). `createSandbox` pools several of these.
 *
 * Runs wait in a queue of at most `queueLimit`; past it `run` throws
 * `SandboxBusyError`. A run's timer has two phases: until the child reports
 * it has booted (`ready`, once per child), the start budget (`startTimeoutMs`, a miss is a retryable
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
    burstPollUs: resolved.burstPollUs,
  });
  let child: Child | null = null;
  let inFlight: InFlight | null = null;
  let checker: IsolateSlot | null = null;
  let tail: Promise<unknown> = Promise.resolve();
  let pending = 0;
  let nextId = 0;
  let disposed = false;
  let lastSettledAtMs = Number.NEGATIVE_INFINITY;

  // One timer per child sandbox, not one per run: it is re-armed only when
  // the run in flight has an earlier deadline than the timer, and when it
  // fires early it checks the run in flight and re-arms for what is left.
  let deadlineTimer: NodeJS.Timeout | null = null;
  let deadlineTimerAtMs = Number.POSITIVE_INFINITY;

  const watch = (run: InFlight): void => {
    if (deadlineTimer !== null && deadlineTimerAtMs <= run.deadlineMs) return;
    if (deadlineTimer !== null) clearTimeout(deadlineTimer);
    const delayMs = Math.max(0, run.deadlineMs - performance.now());
    deadlineTimerAtMs = performance.now() + delayMs;
    deadlineTimer = setTimeout(onDeadline, Math.ceil(delayMs));
    // The channel holds the process open while a run is in flight; the timer alone never does.
    deadlineTimer.unref();
  };

  const onDeadline = (): void => {
    deadlineTimer = null;
    deadlineTimerAtMs = Number.POSITIVE_INFINITY;
    const run = inFlight;
    if (run === null) return;
    if (performance.now() < run.deadlineMs) {
      watch(run);
      return;
    }
    kill(run.child);
    if (run.startedMs === null) settle(run, { error: new SandboxStartError(`no answer within ${resolved.startTimeoutMs} ms`) });
    else settle(run, failed(run, 'script_timeout', `the script ran longer than ${run.timeoutMs} ms`));
  };

  const settle = (run: InFlight, outcome: { result: ScriptResult } | { error: Error }): void => {
    if (inFlight === run) {
      inFlight = null;
      runsInFlight -= 1;
    }
    lastSettledAtMs = performance.now();
    run.child.process.unref();
    run.child.channel.unref();
    if ('result' in outcome) {
      outcome.result.queueMs = roundMs((run.startedMs ?? performance.now()) - run.queuedAtMs);
      run.resolve(outcome.result);
    } else {
      run.reject(outcome.error);
    }
  };

  const failed = (run: InFlight, code: 'script_timeout' | 'script_memory_limit', message: string): { result: ScriptResult } => ({
    result: { ok: false, error: { code, message }, logs: [], durationMs: roundMs(performance.now() - (run.startedMs ?? performance.now())) },
  });

  // The child has the run: from now on only the script's own time counts.
  const started = (run: InFlight): void => {
    run.startedMs = performance.now();
    run.deadlineMs = run.startedMs + run.timeoutMs + PARENT_GRACE_MS;
    watch(run);
  };

  const kill = (target: Child, because?: string): void => {
    if (child === target) child = null;
    if (because !== undefined) target.killedBecause ??= because;
    target.process.kill('SIGKILL');
  };

  const onFrame = (from: Child, frame: ChildFrame): void => {
    const run = inFlight;
    if (frame.kind === 'ready') {
      from.ready = true;
      if (run !== null && run.child === from && run.startedMs === null) started(run);
      return;
    }
    if (run === null || run.child !== from || run.id !== frame.id) return;
    if (frame.kind === 'failure') {
      settle(run, { error: new Error(`script sandbox failed: ${frame.message}`) });
      return;
    }
    // The child abandoned an isolate it could not stop; replace the
    // process before that isolate's thread can do more harm.
    if (frame.compromised) kill(from);
    settle(run, { result: JSON.parse(frame.resultJson) as ScriptResult });
  };

  // Runs once the process has exited and its channel has closed, so every
  // frame the child wrote has been read and its exit code or signal is known.
  // A run the parent settled itself (a timeout, a compromised child) is gone
  // by then. What remains is decided by how the child died, never by timing:
  // there is no per-run acknowledgement, so a child that died while idle may
  // have been handed a run before its exit was seen, exactly like one that
  // died during a run.
  const onGone = (gone: Child, exitCode: number | null, signal: string | null): void => {
    if (child === gone) child = null;
    const run = inFlight;
    if (run === null || run.child !== gone) return;
    const exit = describeExit(exitCode, signal);
    if (disposed) {
      settle(run, { error: new SandboxDisposedError() });
    } else if (run.startedMs === null) {
      settle(run, { error: new SandboxStartError(`the process exited before it accepted the run (${exit})`) });
    } else if (abortedByV8(exitCode, signal)) {
      resolved.onCatastrophicError?.(`the sandbox process exited during a run (${exit})`);
      settle(run, failed(run, 'script_memory_limit', 'the script crashed the sandbox process (V8 ran out of memory beyond the isolate limit)'));
    } else {
      settle(run, { error: new SandboxStoppedError(gone.killedBecause === null ? exit : `${exit}, killed by the sandbox: ${gone.killedBecause}`) });
    }
  };

  const spawnChild = (): Child => {
    const spawned = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, join(__dirname, 'sandbox-process.ts'), childOptions], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    const channel = spawned.stdio[CHANNEL_FD] as Socket;
    const reader = new FrameReader();
    const readChunk = (chunk: Buffer): void => {
      if (spawnedChild.killedBecause !== null) return;
      try {
        for (const frame of reader.push(chunk)) onFrame(spawnedChild, decodeChildFrame(frame));
      } catch {
        // A frame too large, of no known kind, or a result that is not JSON: the run fails as the child's end does.
        kill(spawnedChild, 'a malformed frame');
      }
    };
    const spawnedChild: Child = { process: spawned, channel, readChunk, ready: false, killedBecause: null };
    channel.on('data', readChunk);
    // A child that dies closes its end; 'close' follows the last 'data'. The
    // channel usually closes before the exit is reported: the child is
    // dropped then (a later run gets a new one), and a run in flight is
    // settled on the process's own 'close', which follows both, once the
    // exit code or signal is known.
    channel.on('error', () => kill(spawnedChild));
    channel.on('close', () => {
      if (child === spawnedChild) child = null;
      // A child that closed the channel without exiting is of no further use.
      if (spawned.exitCode === null && spawned.signalCode === null) kill(spawnedChild);
    });
    spawned.on('close', (exitCode, signal) => onGone(spawnedChild, exitCode, signal));
    spawned.on('error', () => kill(spawnedChild));
    return spawnedChild;
  };

  const send = (code: string, inputJson: string, timeoutMs: number, memoryMb: number, queuedAtMs: number): Promise<ScriptResult> => new Promise((resolve, reject) => {
    if (disposed) {
      reject(new SandboxDisposedError());
      return;
    }
    child ??= spawnChild();
    const current = child;
    // Ids are u32 on the wire; they only need to differ from the previous run's.
    nextId = nextId >= 0xffff_ffff ? 1 : nextId + 1;
    // In a burst the answer is due within microseconds: this process waits
    // for it on its core, and the request tells the child to wait for the
    // next request likewise (channel-poll.ts). Not while another run of this
    // process is in flight (its answer would wait behind the poll), nor for
    // a child still booting.
    const burst = resolved.burstPollUs > 0 && current.ready && runsInFlight === 0 && performance.now() - lastSettledAtMs < BURST_GAP_MS;
    const frame = encodeRequest({ id: nextId, timeoutMs, memoryMb, code, inputJson, burst });
    const run: InFlight = { id: nextId, child: current, queuedAtMs, startedMs: null, deadlineMs: 0, timeoutMs, resolve, reject };
    inFlight = run;
    runsInFlight += 1;
    current.process.ref();
    current.channel.ref();
    current.channel.write(frame);
    if (current.ready) {
      started(run);
    } else {
      run.deadlineMs = performance.now() + resolved.startTimeoutMs;
      watch(run);
    }
    // A request the socket could not write at once is not answered soon.
    if (burst && current.channel.writableLength === 0) pollForAnswer(run);
  });

  const pollForAnswer = (run: InFlight): void => {
    const fd = socketFd(run.child.channel);
    if (fd === null) return;
    const untilMs = performance.now() + resolved.burstPollUs / 1_000;
    while (inFlight === run) {
      const leftMs = untilMs - performance.now();
      if (leftMs <= 0 || pollChannel(fd, leftMs, run.child.readChunk) !== 'data') return;
    }
  };

  return {
    async run(request) {
      if (disposed) throw new SandboxDisposedError();
      const calledAtMs = performance.now();
      const { timeoutMs, memoryMb } = resolveLimits(request.limits, resolved);
      const sizeError = checkCodeSize(request.code);
      if (sizeError !== null) return { ok: false, error: sizeError, logs: [], durationMs: roundMs(performance.now() - calledAtMs) };
      // One running plus `queueLimit` waiting; past that, refuse rather than let the backlog grow.
      if (pending > resolved.queueLimit) throw new SandboxBusyError(Math.ceil(resolved.maxTimeoutMs / 1_000), resolved.queueLimit);
      const inputJson = serializeInput(request.input);
      pending += 1;
      const job = tail.then(() => send(request.code, inputJson, timeoutMs, memoryMb, calledAtMs));
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
      return child?.process.pid === undefined ? [] : [child.process.pid];
    },

    dispose() {
      disposed = true;
      if (deadlineTimer !== null) clearTimeout(deadlineTimer);
      if (child !== null) kill(child);
      checker?.dispose();
      checker = null;
    },
  };
}
