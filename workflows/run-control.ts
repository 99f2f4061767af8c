/**
 * Run control that every task kind shares: the run context, `when`,
 * `forEach` and `onError`. Pure and deterministic, so the workflow and the
 * dry run (engine/triggers/dry-run.ts) run the very same interpreter and
 * cannot disagree on which tasks run, skip or fail.
 */
import { Query } from './query';
import { parseReference, valueAtPath } from './references';
import { TaskInputError } from './task-inputs';
import type { AccountContext, CustomerContext, EventEnvelope, RecordContext, PackageSelection, RunContext, TaskError, TaskOutcome, TaskResult, TaskSpec, TaskState, TriggerSnapshot } from './types';

/** Most items one `forEach` task may run over. */
export const MAX_FOREACH_ITEMS = 100;

/** The context at the start of a run: nothing has run yet. */
export function initialContext(trigger: Pick<TriggerSnapshot, 'id' | 'name' | 'version'>, event: EventEnvelope, run?: RunContext['run'], account?: AccountContext, customer?: CustomerContext, selectedPackage?: PackageSelection): RunContext {
  const reservation = (event.data as { reservation?: unknown }).reservation;
  // A record sweep's run finds its record in its event (engine/schedules/sweep-sources.ts); other runs have none.
  const record = event.type === 'schedule.fired' ? (event.data as { record?: RecordContext }).record : undefined;
  return {
    event,
    data: event.data,
    ...(reservation !== undefined ? { reservation } : {}),
    ...(record !== undefined ? { record } : {}),
    tasks: {},
    results: {},
    trigger: { id: trigger.id, name: trigger.name, version: trigger.version },
    ...(run ? { run } : {}),
    ...(account ? { account } : {}),
    ...(customer ? { customer } : {}),
    ...(selectedPackage ? { package: selectedPackage } : {}),
  };
}

/**
 * True when the task has no `when`, or its filter matches the context. A
 * filter that throws (`$toInt` of "abc", a division by zero) fails the task
 * with `when_failed`: thrown from workflow code as anything else, it would
 * fail the workflow task, which Temporal retries without end.
 */
export function whenMatches(when: Record<string, unknown> | undefined, context: RunContext): boolean {
  if (!when || Object.keys(when).length === 0) return true;
  try {
    return new Query(when).test(context as unknown as Record<string, unknown>);
  } catch (error) {
    throw new TaskInputError('when_failed', `when ${JSON.stringify(when)} could not be evaluated: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The items of a `forEach`: the array at the path, at most MAX_FOREACH_ITEMS of them. */
export function forEachItems(path: string, context: RunContext): unknown[] {
  const items = valueAtPath(context, path);
  if (!Array.isArray(items)) throw new TaskInputError('foreach_not_array', `forEach: "${path}" is ${items === undefined ? 'missing' : `not an array (${typeof items})`} in the run's data`);
  if (items.length > MAX_FOREACH_ITEMS) throw new TaskInputError('foreach_too_many', `forEach: "${path}" has ${items.length} items; at most ${MAX_FOREACH_ITEMS} may run in one task`);
  return items;
}

/** Fills each `{{path}}` in a one-line summary from the context; a value that is not there shows as `?`. */
export function fillSummary(summary: string, context: RunContext): string {
  return summary.replace(/\{\{[^}]*\}\}/g, (reference) => {
    const path = parseReference(reference);
    const value = path === undefined ? undefined : valueAtPath(context, path);
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '?';
  });
}

/** Runs one task (or one item of a forEach) for real or as a simulation. */
export type TaskExecutor = (task: TaskSpec, context: RunContext, effectKey: string) => Promise<TaskOutcome>;

export interface InterpretInput {
  tasks: readonly TaskSpec[];
  context: RunContext;
  /** `<workflowId>`: effect keys are `<workflowId>:<taskId>` and `<workflowId>:<taskId>:<index>`. */
  effectKeyBase: string;
  /** Updated in place as tasks run, so a status query sees progress. */
  states: TaskState[];
}

/** How a task failure reads: a code and a message (with the admin's line and column for scripts). */
export type ErrorReader = (error: unknown) => TaskError;

/**
 * Runs the tasks in order with `when`, `forEach` and `onError`. Returns the
 * failure that stopped the run, if one did: later tasks are then `skipped`.
 * A failed task with `onError: "continue"` does not stop it.
 */
export async function interpretTasks(input: InterpretInput, execute: TaskExecutor, readError: ErrorReader): Promise<{ index: number; error: TaskError } | undefined> {
  const { context } = input;
  for (const [index, task] of input.tasks.entries()) {
    const state = input.states[index]!;
    state.status = 'running';
    try {
      const outcome = await runOne(task, context, `${input.effectKeyBase}:${task.id}`, execute);
      if (outcome.skipReason !== undefined) {
        Object.assign(state, { status: 'skipped', skipReason: outcome.skipReason });
        record(context, task.id, { status: 'skipped' });
      } else {
        Object.assign(state, { status: 'completed', output: outcome.output });
        context.tasks[task.id] = outcome.output;
        record(context, task.id, { status: 'completed', output: outcome.output });
      }
    } catch (error) {
      const taskError = readError(error);
      Object.assign(state, { status: 'failed', error: taskError });
      record(context, task.id, { status: 'failed', error: taskError });
      if (task.onError === 'continue') continue;
      for (const later of input.states.slice(index + 1)) Object.assign(later, { status: 'skipped', skipReason: `task "${task.id}" failed` });
      return { index, error: taskError };
    }
  }
  return undefined;
}

function record(context: RunContext, taskId: string, result: TaskResult): void {
  context.results[taskId] = result;
}

/** One task: skipped by `when`, run once, or run per item (each with its own effect key). */
async function runOne(task: TaskSpec, context: RunContext, effectKey: string, execute: TaskExecutor): Promise<TaskOutcome> {
  if (task.forEach === undefined) {
    if (!whenMatches(task.when, context)) return { output: undefined, skipReason: skipReasonFor(task.when) };
    return execute(task, context, effectKey);
  }
  const items = forEachItems(task.forEach, context);
  const outputs: unknown[] = [];
  for (const [index, item] of items.entries()) {
    // `when` is tested per item, so it can pick items (`{"item.autoRenew": true}`); a skipped item's output is null.
    const itemContext: RunContext = { ...context, item, index };
    if (!whenMatches(task.when, itemContext)) {
      outputs.push(null);
      continue;
    }
    const outcome = await execute(task, itemContext, `${effectKey}:${index}`);
    outputs.push(outcome.skipReason !== undefined ? null : outcome.output);
  }
  return { output: outputs };
}

function skipReasonFor(when: Record<string, unknown> | undefined): string {
  return `when ${JSON.stringify(when)} did not match`;
}
