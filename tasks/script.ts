import { z } from '../engine/zod';
import { MAX_CODE_BYTES } from '../scripts-sandbox/limits';
import type { ScriptInput, ScriptLimits } from '../scripts-sandbox';
import type { RunContext, TaskSpec } from '../workflows/types';
import { ScriptFailure } from './task-errors';
import type { TaskKind } from './task-kind';

/**
 * The sandbox's error codes: the admin's script is wrong, so retrying cannot
 * help. The sandbox's own conditions are not among them and are retried:
 * `sandbox_busy` (its queue is full), `sandbox_start_failed` (a process
 * did not boot in time; a cold start is never reported as `script_timeout`)
 * and `sandbox_stopped` (a process was killed from outside, never reported
 * as `script_memory_limit`).
 */
const SCRIPT_ERROR_CODES = ['script_syntax', 'script_runtime', 'script_timeout', 'script_memory_limit', 'script_output_invalid', 'script_output_too_large', 'script_code_too_large'];

type ScriptTask = TaskSpec & { code: string; timeoutMs?: number; memoryMb?: number };

interface PreparedScript {
  code: string;
  input: ScriptInput;
  limits: ScriptLimits;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * `script`: the admin's JavaScript function body in the sandbox, with the run
 * context in scope (`event`, `data`, `reservation`, `tasks`, `results`,
 * `trigger`, and `item`/`index` inside a forEach). Pure compute, so it runs
 * as a local activity: no round trip through the Temporal server; a retry
 * helps when the worker died or the sandbox was busy or starting. The
 * worker runs at most one script per sandbox process at once (engine/worker.ts),
 * so a script never waits in the sandbox queue against its 30 s timeout.
 */
export const scriptKind: TaskKind<ScriptTask, PreparedScript> = {
  type: 'script',
  fields: z.object({
    code: z.string().min(1).refine((code) => byteLength(code) <= MAX_CODE_BYTES, `must be at most ${MAX_CODE_BYTES} bytes of UTF-8`),
    timeoutMs: z.number().int().min(1).optional(),
    memoryMb: z.number().int().min(1).optional(),
  }),
  validate(task, context) {
    const problems = [];
    const syntax = context.checkScript(task.code);
    if (syntax) {
      const where = syntax.line !== undefined ? ` (line ${syntax.line}, column ${syntax.column ?? 0})` : '';
      problems.push({ path: context.at('code'), message: `${syntax.message}${where}` });
    }
    for (const problem of context.checkScriptLimits(limitsOf(task))) problems.push({ path: context.at(problem.path), message: problem.message });
    return problems;
  },
  execution: {
    mode: 'activity',
    local: true,
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: SCRIPT_ERROR_CODES },
  },
  summary: (task) => `script ${task.id}`,
  prepare: (task, context) => ({ code: task.code, input: scriptInputOf(context), limits: limitsOf(task) }),
  async execute(prepared, deps) {
    const result = await deps.sandbox.run(prepared);
    if (!result.ok) throw new ScriptFailure(result.error, result.logs);
    return { output: result.output };
  },
  async simulate(prepared, deps) {
    const result = await deps.sandbox.run(prepared);
    if (!result.ok) throw new ScriptFailure(result.error, result.logs);
    return { output: result.output, logs: result.logs };
  },
};

function limitsOf(task: ScriptTask): ScriptLimits {
  return { ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}), ...(task.memoryMb !== undefined ? { memoryMb: task.memoryMb } : {}) };
}

/** The context as the sandbox takes it: plain JSON data. */
function scriptInputOf(context: RunContext): ScriptInput {
  return {
    event: context.event,
    data: context.data,
    reservation: context.reservation,
    tasks: context.tasks,
    results: context.results,
    trigger: context.trigger,
    ...(context.item !== undefined ? { item: context.item, index: context.index } : {}),
    ...(context.account !== undefined ? { account: context.account } : {}),
    ...(context.customer !== undefined ? { customer: context.customer } : {}),
  };
}
