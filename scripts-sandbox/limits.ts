import { availableParallelism } from 'node:os';
import type { SandboxOptions, ScriptLimits } from './types';

/** Defaults and hard bounds. Sizes are UTF-8 bytes. */
export const DEFAULT_TIMEOUT_MS = 1_000;
export const DEFAULT_MEMORY_MB = 64;
export const DEFAULT_MAX_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_MEMORY_MB = 256;
/** isolated-vm refuses heaps below 8 MB, and the locked-down realm needs a little room itself. */
export const MIN_MEMORY_MB = 16;
export const MAX_CODE_BYTES = 64 * 1024;
export const MAX_OUTPUT_BYTES = 256 * 1024;
export const MAX_LOG_LINES = 200;
export const MAX_LOG_BYTES = 16 * 1024;

/** Sandbox options with every default filled in. */
export interface ResolvedOptions {
  maxTimeoutMs: number;
  maxMemoryMb: number;
  maxRunsPerIsolate: number;
  maxCachedScripts: number;
  maxIsolates: number;
  processes: number;
  queueLimit: number;
  startTimeoutMs: number;
  bootDelayMs: number;
  burstPollUs: number;
  onCatastrophicError?: (message: string) => void;
}

/** One child per core on the 2-core machines Creditflow targets by default. */
export const DEFAULT_PROCESSES = 2;
export const MAX_PROCESSES = 16;
/**
 * Runs waiting per process. Four absorbs a burst of short scripts; the
 * worker never queues (its local-activity slots match the processes, see
 * engine/worker.ts), so in practice this bounds the API's test and dry runs.
 */
export const DEFAULT_QUEUE_LIMIT = 4;
export const MAX_QUEUE_LIMIT = 64;
/** A cold child (Node, tsx, isolated-vm) boots in well under a second; ten covers a machine busy with other work. */
export const DEFAULT_START_TIMEOUT_MS = 10_000;
/**
 * A short script's round trip with both ends awake is about 60 us on the
 * machines measured (scripts-sandbox/README.md, "Speed"); 250 gave the same
 * p50 with a worse p99. On one core a poll only delays the process it waits
 * for, so there the default is not to poll.
 */
export const DEFAULT_BURST_POLL_US = availableParallelism() > 1 ? 100 : 0;
export const MAX_BURST_POLL_US = 2_000;

/** Fills defaults and rejects nonsensical server configuration (a bug in the caller, so it throws). */
export function resolveOptions(options: SandboxOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    maxTimeoutMs: options.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS,
    maxMemoryMb: options.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB,
    maxRunsPerIsolate: options.maxRunsPerIsolate ?? 10_000,
    maxCachedScripts: options.maxCachedScripts ?? 256,
    maxIsolates: options.maxIsolates ?? 4,
    processes: options.processes ?? DEFAULT_PROCESSES,
    queueLimit: options.queueLimit ?? DEFAULT_QUEUE_LIMIT,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    bootDelayMs: options.bootDelayMs ?? 0,
    burstPollUs: options.burstPollUs ?? DEFAULT_BURST_POLL_US,
    onCatastrophicError: options.onCatastrophicError,
  };
  const positive: Array<keyof ResolvedOptions> = ['maxTimeoutMs', 'maxMemoryMb', 'maxRunsPerIsolate', 'maxCachedScripts', 'maxIsolates', 'processes', 'queueLimit', 'startTimeoutMs'];
  for (const key of positive) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new RangeError(`sandbox option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (resolved.maxMemoryMb < MIN_MEMORY_MB) throw new RangeError(`sandbox option maxMemoryMb must be at least ${MIN_MEMORY_MB}`);
  if (resolved.processes > MAX_PROCESSES) throw new RangeError(`sandbox option processes must be at most ${MAX_PROCESSES}`);
  if (resolved.queueLimit > MAX_QUEUE_LIMIT) throw new RangeError(`sandbox option queueLimit must be at most ${MAX_QUEUE_LIMIT}`);
  if (!Number.isInteger(resolved.bootDelayMs) || resolved.bootDelayMs < 0) throw new RangeError('sandbox option bootDelayMs must be a non-negative integer');
  if (!Number.isInteger(resolved.burstPollUs) || resolved.burstPollUs < 0 || resolved.burstPollUs > MAX_BURST_POLL_US) {
    throw new RangeError(`sandbox option burstPollUs must be an integer from 0 to ${MAX_BURST_POLL_US}, got ${String(resolved.burstPollUs)}`);
  }
  return resolved;
}

/** A limit problem, named by the field so trigger validation can answer 422 with its path. */
export interface LimitProblem {
  path: 'timeoutMs' | 'memoryMb';
  message: string;
}

/**
 * Validates limits a task asks for against the sandbox maximums.
 * Returns every problem found; an empty array means the limits are usable.
 */
export function checkLimits(limits: ScriptLimits, options?: SandboxOptions): LimitProblem[] {
  const { maxTimeoutMs, maxMemoryMb } = resolveOptions(options);
  const problems: LimitProblem[] = [];
  const check = (path: LimitProblem['path'], value: unknown, min: number, max: number, unit: string): void => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push({ path, message: `${path} must be an integer from ${min} to ${max} ${unit}` });
    }
  };
  check('timeoutMs', limits.timeoutMs, 1, maxTimeoutMs, 'ms');
  check('memoryMb', limits.memoryMb, MIN_MEMORY_MB, maxMemoryMb, 'MB');
  return problems;
}

/** Limits for one run: defaults (capped by the maximums) for whatever the task leaves out. */
export function resolveLimits(limits: ScriptLimits | undefined, options: ResolvedOptions): Required<ScriptLimits> {
  const problems = checkLimits(limits ?? {}, options);
  if (problems.length > 0) throw new RangeError(`invalid script limits: ${problems.map((p) => p.message).join('; ')}`);
  return {
    timeoutMs: limits?.timeoutMs ?? Math.min(DEFAULT_TIMEOUT_MS, options.maxTimeoutMs),
    memoryMb: limits?.memoryMb ?? Math.min(DEFAULT_MEMORY_MB, options.maxMemoryMb),
  };
}
