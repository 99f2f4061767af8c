/**
 * The worker's activity for each task kind that runs as one (`scriptTask`,
 * `accountTask`, ...): prepare the task's inputs from the run context, then
 * execute it. Failures become Temporal failures by their code, never by
 * their message: the admin's mistakes and refusals are final, outages are
 * retried.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { isDomainError } from '../engine/errors';
import { TaskInputError } from '../workflows/task-inputs';
import type { TaskActivityInput, TaskOutcome } from '../workflows/types';
import { TASK_KINDS } from './registry';
import { ScriptFailure } from './task-errors';
import { activityNameOf, type ExecutionDependencies, type TaskKind } from './task-kind';

/** A failure an activity reports: final unless it says it may pass. */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof ScriptFailure) {
    const { code, message, line, column } = error.error;
    return ApplicationFailure.nonRetryable(message, code, { code, message, line, column, logs: error.logs });
  }
  if (error instanceof TaskInputError) return ApplicationFailure.nonRetryable(error.message, error.code);
  if (isDomainError(error)) return error.kind === 'unavailable' ? ApplicationFailure.retryable(error.message, error.code) : ApplicationFailure.nonRetryable(error.message, error.code);
  const retryable = (error as { retryable?: unknown; code?: unknown }).retryable;
  const code = (error as { code?: unknown }).code;
  if (typeof retryable === 'boolean' && typeof code === 'string') {
    return retryable ? ApplicationFailure.retryable((error as Error).message, code) : ApplicationFailure.nonRetryable((error as Error).message, code);
  }
  return error;
}

function taskActivity(kind: TaskKind, deps: ExecutionDependencies) {
  return async (input: TaskActivityInput): Promise<TaskOutcome> => {
    try {
      // Activities of a task always run for a workflow; the effect key starts with its id.
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? input.effectKey;
      const prepared = kind.prepare(input.task, input.context, { key: input.effectKey, workflowId });
      return await kind.execute(prepared, deps, input.task, input.context);
    } catch (error) {
      throw toActivityFailure(error);
    }
  };
}

/** One activity per kind that runs as an activity, named by activityNameOf (`account` -> `accountTask`). */
export function createTaskActivities(deps: ExecutionDependencies): Record<string, (input: TaskActivityInput) => Promise<TaskOutcome>> {
  return Object.fromEntries(TASK_KINDS.map((kind) => [activityNameOf(kind.type), taskActivity(kind, deps)]));
}

/** Which task type each task activity executes, for the metrics' task_type label. */
export function taskTypesByActivity(): Record<string, string> {
  return Object.fromEntries(TASK_KINDS.map((kind) => [activityNameOf(kind.type), kind.type]));
}
