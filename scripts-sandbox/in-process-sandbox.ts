import { IsolateSlot, type Envelope, type RunGuard, type RunOutcome } from './isolate-slot';
import { MAX_CODE_BYTES, MIN_MEMORY_MB, resolveLimits, resolveOptions } from './limits';
import type { Sandbox, SandboxOptions, ScriptError, ScriptInput, ScriptRequest, ScriptResult } from './types';
import { SandboxDisposedError } from './sandbox-disposed-error';

/** The isolate for one memory limit and the queue that keeps it to one run at a time. */
interface SlotEntry {
  slot: IsolateSlot | null;
  tail: Promise<unknown>;
  queued: number;
  lastUsed: number;
}

/** A sandbox whose isolates live in this process, plus what the process supervisor needs to know after each run. */
export interface InProcessSandbox extends Sandbox {
  /**
   * True once an isolate had to be abandoned rather than stopped (watchdog or
   * memory-limit kill): its thread may still be running or allocating, so the
   * process hosting this sandbox should be replaced.
   */
  readonly compromised: boolean;
  /**
   * Runs one script on this thread, blocking it until the run ends, and
   * returns its ScriptResult as JSON text (the runtime's own text for a
   * settled run, so output is never parsed or re-serialized here). Only for
   * sandboxes created with `syncRuns` (the child process, whose watchdog
   * thread is `guard`); limits and code size are checked by the caller.
   */
  runJsonSync(code: string, inputJson: string, timeoutMs: number, memoryMb: number, guard: RunGuard): string;
}

/** Options of a sandbox whose runs may block this thread (see `runJsonSync`). */
export interface InProcessSandboxOptions extends SandboxOptions {
  syncRuns?: boolean;
}

/**
 * Creates a sandbox in this process: isolates keyed by memory limit, each
 * running one script at a time (a run's whole life is one isolate task, so
 * queueing costs no parallelism within an isolate), replaced when worn or
 * damaged. isolated-vm cannot stop every runaway builtin, so production code
 * uses `createSandbox`, which hosts this in a supervised child process.
 */
export function createInProcessSandbox(options?: InProcessSandboxOptions): InProcessSandbox {
  const resolved = resolveOptions(options);
  const syncRuns = options?.syncRuns === true;
  const entries = new Map<number, SlotEntry>();
  let checker: IsolateSlot | null = null;
  let disposed = false;
  let compromised = false;
  let useCounter = 0;

  const newSlot = (memoryMb: number): IsolateSlot => new IsolateSlot({
    memoryMb,
    maxRunsPerIsolate: resolved.maxRunsPerIsolate,
    maxCachedScripts: resolved.maxCachedScripts,
    onCatastrophicError: resolved.onCatastrophicError,
    syncRuns,
  });

  const entryFor = (memoryMb: number): SlotEntry => {
    let entry = entries.get(memoryMb);
    if (entry === undefined) {
      evictIdleSlots(entries, resolved.maxIsolates - 1);
      entry = { slot: null, tail: Promise.resolve(), queued: 0, lastUsed: 0 };
      entries.set(memoryMb, entry);
    }
    entry.lastUsed = ++useCounter;
    return entry;
  };

  const runOn = async (entry: SlotEntry, memoryMb: number, request: ScriptRequest, timeoutMs: number, inputJson: string): Promise<ScriptResult> => {
    if (disposed) throw new SandboxDisposedError();
    const startedMs = performance.now();
    if (entry.slot === null || !entry.slot.usable) entry.slot = newSlot(memoryMb);
    const slot = entry.slot;
    const compiled = slot.compile(request.code);
    if ('error' in compiled) return failed(compiled.error, [], startedMs);
    const outcome = await slot.execute(compiled.script, inputJson, timeoutMs);
    if (outcome.kind === 'memory_limit' || (outcome.kind === 'timeout' && outcome.abandoned)) compromised = true;
    return toResult(outcome, timeoutMs, memoryMb, startedMs);
  };

  return {
    get compromised() {
      return compromised;
    },

    runJsonSync(code, inputJson, timeoutMs, memoryMb, guard) {
      if (disposed) throw new SandboxDisposedError();
      if (!syncRuns) throw new Error('runJsonSync needs a sandbox created with syncRuns');
      const startedMs = performance.now();
      const entry = entryFor(memoryMb);
      if (entry.slot === null || !entry.slot.usable) entry.slot = newSlot(memoryMb);
      const slot = entry.slot;
      const compiled = slot.compile(code);
      if ('error' in compiled) return JSON.stringify(failed(compiled.error, [], startedMs));
      const outcome = slot.executeSync(compiled.script, inputJson, timeoutMs, guard);
      if (outcome.kind === 'memory_limit') compromised = true;
      // The settled envelope's own text with durationMs appended: `{"ok":...,"output":...}` gains `,"durationMs":n}`.
      if (outcome.kind === 'settled') return `${outcome.json.slice(0, -1)},"durationMs":${elapsedMs(startedMs)}}`;
      return JSON.stringify(toResult(outcome, timeoutMs, memoryMb, startedMs));
    },

    async run(request) {
      if (disposed) throw new SandboxDisposedError();
      const startedMs = performance.now();
      const { timeoutMs, memoryMb } = resolveLimits(request.limits, resolved);
      const sizeError = checkCodeSize(request.code);
      if (sizeError !== null) return failed(sizeError, [], startedMs);
      const inputJson = serializeInput(request.input);
      const entry = entryFor(memoryMb);
      entry.queued++;
      const job = entry.tail.then(() => runOn(entry, memoryMb, request, timeoutMs, inputJson));
      entry.tail = job.catch(() => undefined);
      try {
        return await job;
      } finally {
        entry.queued--;
      }
    },

    checkSyntax(code) {
      if (disposed) throw new SandboxDisposedError();
      const sizeError = checkCodeSize(code);
      if (sizeError !== null) return sizeError;
      // A separate small isolate, so a save never waits behind a running script.
      if (checker === null || !checker.usable) checker = newSlot(MIN_MEMORY_MB);
      const compiled = checker.compile(code);
      return 'error' in compiled ? compiled.error : null;
    },

    dispose() {
      disposed = true;
      for (const entry of entries.values()) entry.slot?.dispose();
      entries.clear();
      checker?.dispose();
      checker = null;
    },
  };
}

/** Drops least recently used idle isolates until at most `keep` remain. */
function evictIdleSlots(entries: Map<number, SlotEntry>, keep: number): void {
  const idle = [...entries.entries()].filter(([, entry]) => entry.queued === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
  for (const [memoryMb, entry] of idle) {
    if (entries.size <= keep) return;
    entry.slot?.dispose();
    entries.delete(memoryMb);
  }
}

/** Code over MAX_CODE_BYTES (UTF-8) is refused before anything is parsed. */
export function checkCodeSize(code: string): ScriptError | null {
  const bytes = Buffer.byteLength(code, 'utf8');
  if (bytes <= MAX_CODE_BYTES) return null;
  return { code: 'script_code_too_large', message: `code is ${bytes} bytes; the limit is ${MAX_CODE_BYTES} bytes` };
}

/**
 * The input crosses into the isolate as JSON text, so the script always gets
 * its own copy of plain data. Omitted `data`/`reservation` are derived inside
 * the isolate, which keeps `data === event.data` there.
 */
export function serializeInput(input: ScriptInput): string {
  const envelope: Record<string, unknown> = { event: input.event };
  if (input.data !== undefined) envelope.data = input.data;
  if (input.reservation !== undefined) envelope.reservation = input.reservation;
  if (input.tasks !== undefined) envelope.tasks = input.tasks;
  if (input.trigger !== undefined) envelope.trigger = input.trigger;
  if (input.results !== undefined) envelope.results = input.results;
  if (input.item !== undefined) envelope.item = input.item;
  if (input.index !== undefined) envelope.index = input.index;
  if (input.account !== undefined) envelope.account = input.account;
  if (input.customer !== undefined) envelope.customer = input.customer;
  return JSON.stringify(envelope);
}

function elapsedMs(startedMs: number): number {
  return Math.round((performance.now() - startedMs) * 1_000) / 1_000;
}

function failed(error: ScriptError, logs: string[], startedMs: number): ScriptResult {
  return { ok: false, error, logs, durationMs: elapsedMs(startedMs) };
}

function toResult(outcome: RunOutcome, timeoutMs: number, memoryMb: number, startedMs: number): ScriptResult {
  switch (outcome.kind) {
    case 'settled': {
      const envelope = JSON.parse(outcome.json) as Extract<Envelope, { ok: boolean }>;
      if (envelope.ok) return { ok: true, output: envelope.output, logs: envelope.logs, durationMs: elapsedMs(startedMs) };
      return failed(envelope.error, envelope.logs, startedMs);
    }
    case 'timeout': {
      const message = outcome.stalled
        ? 'the script awaited a promise that can never settle (nothing outside the script can resolve it)'
        : `the script ran longer than ${timeoutMs} ms`;
      return failed({ code: 'script_timeout', message }, outcome.logs, startedMs);
    }
    case 'memory_limit':
      return failed({ code: 'script_memory_limit', message: `the script used more than its ${memoryMb} MB memory limit` }, [], startedMs);
    case 'shutdown':
      throw new SandboxDisposedError();
  }
}
