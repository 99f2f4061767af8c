import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { emailSummary, postingSummary, scriptSummary } from './summaries';
import { accountAmount, emailVariables, resolveField, runScope, scriptInput, TaskInputError } from './task-inputs';
import type { CancelRequest, RunSinks, RunState, TaskError, TaskSpec, TaskState, TriggerRunInput } from './types';

/** Sent by the API when a matching cancellation event arrives (then it requests cancellation). */
export const cancelRequestSignal = defineSignal<[CancelRequest]>('cancelRequest');
/** The run's phase and every task's status and output, while running and after. */
export const runStateQuery = defineQuery<RunState>('runState');

const SCRIPT_ERROR_CODES = ['script_syntax', 'script_runtime', 'script_timeout', 'script_memory_limit', 'script_output_invalid', 'script_output_too_large', 'script_code_too_large'];

// A script is pure compute in this worker's sandbox (10 s at most, no I/O),
// so it runs as a local activity: no round trip through the Temporal server.
// A retry only helps when the worker died, so few attempts.
const { runScriptTask } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes: SCRIPT_ERROR_CODES },
});
// Postings are idempotent by key, so retrying through a store outage is safe.
// A posting takes milliseconds; the timeout bounds how long a crashed
// worker's attempt holds the run before the retry.
const { postAccountTask } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});
// Mail goes through the outbox, so a retry never sends twice.
const { sendEmailTask } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 30 },
});

const { runMetrics } = proxySinks<RunSinks>();

/** How long a run cancelled by signal waits for the API's cancellation request, so it ends as Canceled. */
const CANCEL_REQUEST_GRACE = '1 minute';

/**
 * One generic run of a trigger version for one event: wait out the window
 * (racing the cancellation signal deterministically), then run the tasks in
 * order, each as an activity, keeping every task's status and output.
 */
export async function triggerRun(input: TriggerRunInput): Promise<RunState> {
  const { trigger, event } = input;
  const state: RunState = {
    phase: 'waiting',
    triggerId: trigger.id,
    triggerVersion: trigger.version,
    eventId: event.id,
    waitSeconds: trigger.wait.seconds,
    lateCancellations: [],
    tasks: trigger.tasks.map((task) => ({ id: task.id, type: task.type, status: 'pending' })),
  };
  setHandler(runStateQuery, () => state);
  setHandler(cancelRequestSignal, (request) => {
    // A retried dispatch may signal twice; the first of each event counts.
    const seen = state.cancelledBy?.eventId === request.eventId || state.lateCancellations.some((c) => c.eventId === request.eventId);
    if (seen) return;
    if (state.phase === 'waiting' && !state.cancelledBy) state.cancelledBy = request;
    else state.lateCancellations.push({ ...request, phase: state.phase });
  });

  if (await waitOutWindow(state)) return endCancelled(state);
  state.phase = 'running';
  await CancellationScope.nonCancellable(() => runTasks(input, state));
  state.phase = 'completed';
  runMetrics.closed(state.triggerId, 'completed');
  return state;
}

/** True when a cancellation arrived during the window. */
async function waitOutWindow(state: RunState): Promise<boolean> {
  try {
    const waitMs = state.waitSeconds * 1000;
    if (waitMs > 0) return await condition(() => state.cancelledBy !== undefined, waitMs);
    return state.cancelledBy !== undefined;
  } catch (error) {
    // Cancelled from outside (Temporal UI, or the API) during the window.
    if (isCancellation(error)) markCancelled(state);
    throw error;
  }
}

function markCancelled(state: RunState): void {
  state.phase = 'cancelled';
  runMetrics.closed(state.triggerId, 'cancelled');
  state.tasks.forEach((task) => skip(task, 'the run was cancelled during its wait'));
}

async function endCancelled(state: RunState): Promise<RunState> {
  markCancelled(state);
  // The API requests cancellation right after the signal; waiting for it lets
  // the run close as Canceled in Temporal rather than Completed.
  await condition(() => false, CANCEL_REQUEST_GRACE);
  return state;
}

async function runTasks(input: TriggerRunInput, state: RunState): Promise<void> {
  const outputs: Record<string, unknown> = {};
  for (const [index, task] of input.trigger.tasks.entries()) {
    const taskState = state.tasks[index]!;
    taskState.status = 'running';
    try {
      const result = await runTask(task, input, outputs);
      outputs[task.id] = result.output;
      if (result.skipReason) skip(taskState, result.skipReason);
      else Object.assign(taskState, { status: 'completed', output: result.output });
    } catch (error) {
      failRun(state, index, toTaskError(error));
    }
  }
}

function failRun(state: RunState, index: number, error: TaskError): never {
  const failed = state.tasks[index]!;
  Object.assign(failed, { status: 'failed', error });
  state.tasks.slice(index + 1).forEach((task) => skip(task, `task "${failed.id}" failed`));
  state.phase = 'failed';
  runMetrics.closed(state.triggerId, 'failed');
  throw ApplicationFailure.nonRetryable(`task "${failed.id}" failed: ${error.message}`, error.code, error);
}

function skip(task: TaskState, reason: string): void {
  if (task.status !== 'pending' && task.status !== 'running') return;
  task.status = 'skipped';
  task.skipReason = reason;
}

interface TaskResult {
  output: unknown;
  skipReason?: string;
}

async function runTask(task: TaskSpec, input: TriggerRunInput, outputs: Record<string, unknown>): Promise<TaskResult> {
  const { trigger, event } = input;
  const { workflowId } = workflowInfo();
  const effectKey = `${workflowId}:${task.id}`;
  switch (task.type) {
    case 'script': {
      const limits = { ...(task.timeoutMs ? { timeoutMs: task.timeoutMs } : {}), ...(task.memoryMb ? { memoryMb: task.memoryMb } : {}) };
      const scriptArgs = { code: task.code, input: scriptInput(trigger, event, outputs), limits };
      return { output: await runScriptTask.executeWithOptions({ summary: scriptSummary(task.id) }, [scriptArgs]) };
    }
    case 'account': {
      const amount = accountAmount(task, outputs);
      if (amount === 0) return { output: { amount: 0 }, skipReason: 'the amount is 0' };
      const ownerId = resolveField(task.owner, runScope(event, outputs), 'owner');
      const posted = await postAccountTask.executeWithOptions({ summary: postingSummary(task.action, amount, task.unit, ownerId) }, [{
        ownerId,
        unit: task.unit,
        direction: task.action,
        amount,
        idempotencyKey: effectKey,
        createIfMissing: task.createIfMissing,
        ...(task.comment ? { comment: task.comment } : {}),
        source: { kind: 'trigger', triggerId: trigger.id, workflowId, taskId: task.id, eventId: event.id },
      }]);
      return { output: posted };
    }
    case 'email': {
      const to = resolveField(task.to, runScope(event, outputs), 'to');
      const { template, subject, text, html } = task;
      const sent = await sendEmailTask.executeWithOptions({ summary: emailSummary(to, template) }, [{
        outboxKey: effectKey,
        to,
        ...(template ? { template } : {}),
        ...(subject ? { subject } : {}),
        ...(text ? { text } : {}),
        ...(html ? { html } : {}),
        variables: emailVariables(task, event, outputs),
      }]);
      return { output: sent };
    }
  }
}

function toTaskError(error: unknown): TaskError {
  if (error instanceof TaskInputError) return { code: error.code, message: error.message };
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as Partial<TaskError>;
    return {
      code: cause.type ?? 'task_failed',
      message: cause.message,
      ...(typeof details.line === 'number' ? { line: details.line } : {}),
      ...(typeof details.column === 'number' ? { column: details.column } : {}),
    };
  }
  return { code: 'task_failed', message: cause instanceof Error ? cause.message : String(cause) };
}
