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
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { chainTooDeep, MAX_CHAIN_DEPTH } from './chain-depth';
import { isLegacyRun, runLegacyTask } from './legacy-tasks';
import { fillSummary, initialContext, interpretTasks, type TaskExecutor } from './run-control';
import { TaskInputError } from './task-inputs';
import type { CancelRequest, EventArrival, EventEnvelope, LegacyTaskSpec, OnLateCancel, RetryPlan, RunContext, RunSinks, RunState, TaskActivityInput, TaskError, TaskOutcome, TaskState, TriggerRunInput, WaitRegistered } from './types';

/** Sent by the API when a matching cancellation event arrives (then it requests cancellation). */
export const cancelRequestSignal = defineSignal<[CancelRequest]>('cancelRequest');
/** Sent by the API when an event arrives that a wait_for_event task of this run waits for. */
export const eventArrivedSignal = defineSignal<[EventArrival]>('eventArrived');
/** The run's phase and every task's status and output, while running and after. */
export const runStateQuery = defineQuery<RunState>('runState');

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
    ...(input.cause ? { cause: input.cause } : {}),
    // The package the run credits, chosen when its event matched; state only, so replay is unaffected.
    ...(input.package ? { package: input.package } : {}),
  };
  setHandler(runStateQuery, () => state);
  // Decided by the input alone (runs started before causes existed have none), so replay needs no patch marker.
  const tooDeep = chainTooDeep(input.cause);
  if (tooDeep) failTooDeep(state, tooDeep);
  const arrivals: Arrivals = new Map();
  setHandler(eventArrivedSignal, (arrival) => {
    const key = arrivalKey(arrival.path, arrival.value);
    const known = arrivals.get(key) ?? [];
    // A retried delivery signals again; each event counts once.
    if (!known.some((event) => event.id === arrival.event.id)) arrivals.set(key, [...known, arrival.event]);
  });
  setHandler(cancelRequestSignal, (request) => {
    // A retried dispatch may signal twice; the first of each event counts.
    const seen = state.cancelledBy?.eventId === request.eventId || state.lateCancellations.some((c) => c.eventId === request.eventId);
    if (seen) return;
    if (state.phase === 'waiting' && !state.cancelledBy && !input.runningFromStart) state.cancelledBy = request;
    else state.lateCancellations.push({ ...request, phase: input.runningFromStart && state.phase === 'waiting' ? 'running' : state.phase });
  });

  // Decided by the input alone (runs started before holds existed have none), so replay needs no patch marker.
  if (input.heldCancellation) state.cancelledBy = input.heldCancellation;
  if (await waitOutWindow(state)) return endCancelled(state);
  state.phase = 'running';
  await CancellationScope.nonCancellable(async () => {
    // Decided by the input alone (runs started before it have none), so replay needs no patch marker.
    if (input.tasksBeginRecorded) await recordTasksBegin();
    await runTasks(input, state, taskExecutor(arrivals));
  });
  state.phase = 'completed';
  runMetrics.closed(state.triggerId, 'completed');
  return state;
}

/** A regular activity that does nothing: scheduling it ends the workflow task, recording that the tasks began (see TriggerRunInput.tasksBeginRecorded). */
const { tasksBegin: recordTasksBegin } = proxyActivities<{ tasksBegin(): Promise<void> }>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

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

/**
 * Runs the task chain. A run started by this release names, on every task,
 * how the workflow executes it (`execution`, filled in from the task kind
 * when the run started), so the generic interpreter runs it. A run started
 * by the previous release has no `execution` and keeps the chain it began
 * with (legacy-tasks.ts). The run's input decides, so replay is
 * deterministic without a patch marker.
 */
async function runTasks(input: TriggerRunInput, state: RunState, executeTask: TaskExecutor): Promise<void> {
  if (isLegacyRun(input)) return runLegacyTasks(input, state);
  const { workflowId, startTime } = workflowInfo();
  // The depth rides in the context only on runs with a cause, so runs without one see the context they always did.
  const run = { workflowId, startedAt: startTime.toISOString(), ...(input.cause ? { depth: input.cause.depth } : {}) };
  const context = initialContext(input.trigger, input.event, run, input.account, input.customer, input.package);
  if (input.ownerDeferred) context.ownerDeferred = true;
  const failure = await interpretTasks({ tasks: input.trigger.tasks, context, effectKeyBase: workflowInfo().workflowId, states: state.tasks }, executeTask, toTaskError);
  // Runs of triggers without onLateCancel (all runs started before it existed) go on exactly as before.
  if (input.trigger.onLateCancel) await answerLateCancellation(input.trigger.onLateCancel, state, context, executeTask);
  if (failure) failRun(state, failure.index, failure.error);
}

/**
 * `onLateCancel`: once the tasks have ended, waits up to `withinSeconds`
 * for a cancellation unless one came while they ran, then runs the late
 * tasks once for the first of them, in the tasks' context plus
 * `cancellation`, under effect keys of their own (`<workflowId>:late:<id>`).
 * The API requests Temporal cancellation along with its signal; the wait
 * and the late tasks are not cancellable, so that request cannot cut them
 * short. A late task that fails fails the run.
 */
async function answerLateCancellation(late: OnLateCancel, state: RunState, context: RunContext, executeTask: TaskExecutor): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    if (state.lateCancellations.length === 0 && late.withinSeconds > 0) await condition(() => state.lateCancellations.length > 0, late.withinSeconds * 1000);
    const [first] = state.lateCancellations;
    if (!first) return;
    state.lateCancelTasks = late.tasks.map((task) => ({ id: task.id, type: task.type, status: 'pending' }));
    const cancellation = { eventId: first.eventId, eventType: first.eventType };
    const failure = await interpretTasks({ tasks: late.tasks, context: { ...context, cancellation }, effectKeyBase: `${workflowInfo().workflowId}:late`, states: state.lateCancelTasks }, executeTask, toTaskError);
    if (!failure) return;
    const failed = late.tasks[failure.index]!;
    state.phase = 'failed';
    runMetrics.closed(state.triggerId, 'failed');
    throw ApplicationFailure.nonRetryable(`late-cancel task "${failed.id}" failed: ${failure.error.message}`, failure.error.code, failure.error);
  });
}

function arrivalKey(path: string, value: string): string {
  return `${path}\u001f${value}`;
}

/** Events signalled to a run for its waits, by correlation (path and value). */
type Arrivals = Map<string, EventEnvelope[]>;

type TaskActivities = Record<string, (input: TaskActivityInput) => Promise<TaskOutcome>>;

/**
 * A failure no retry can mend: the activity said so, or its error type is
 * one the retry policy names as final. A local activity's failure reaches
 * the workflow as the activity's own error; a regular one's as an
 * ActivityFailure around it.
 */
function isFinal(error: unknown, retry: RetryPlan): boolean {
  if (error instanceof ActivityFailure) return error.retryState === 'NON_RETRYABLE_FAILURE' || isFinal(error.cause, retry);
  if (!(error instanceof ApplicationFailure)) return false; // a timeout, or the worker went away: it may pass
  return error.nonRetryable || (typeof error.type === 'string' && (retry.nonRetryableErrorTypes ?? []).includes(error.type));
}

/**
 * `localFirst`: one attempt as a local activity (no server round trip).
 * Its outcome when it succeeds, and its failure when it is final (the
 * activity said the error will not pass); undefined when the regular
 * activity should carry on under the full retry policy: the attempt failed
 * with an error that may pass, or timed out.
 */
async function firstAttemptInWorker(activity: string, summary: string, args: [TaskActivityInput], localFirst: { startToCloseTimeout: string; backoff?: true }, retry: RetryPlan): Promise<TaskOutcome | undefined> {
  const local = proxyLocalActivities<TaskActivities>({ startToCloseTimeout: localFirst.startToCloseTimeout, retry: { ...retry, maximumAttempts: 1 } });
  try {
    return await local[activity]!.executeWithOptions({ summary }, args);
  } catch (error) {
    if (isCancellation(error) || isFinal(error, retry)) throw error;
    // As the retry policy would wait before a second attempt: the failure's own delay (a receiver's Retry-After), else the first interval.
    if (localFirst.backoff) await sleep(nextRetryDelayOf(error) ?? retry.initialInterval);
    return undefined;
  }
}

/**
 * The delay before the next attempt that a failure asks for, in ms: its
 * details' `retryAfterMs` (the SDK hands a workflow a failure without its
 * nextRetryDelay, so a kind that sets one puts it there too, see
 * tasks/webhook.ts), else nextRetryDelay where an SDK keeps it.
 */
function nextRetryDelayOf(error: unknown): number | undefined {
  if (!(error instanceof ApplicationFailure)) return undefined;
  const fromDetails = (error.details?.[0] as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  const delay = typeof fromDetails === 'number' ? fromDetails : error.nextRetryDelay;
  return typeof delay === 'number' && delay > 0 ? delay : undefined;
}

/** Runs one task (or one forEach item) the way its kind's `execution` says. */
const taskExecutor = (arrivals: Arrivals): TaskExecutor => async (task, context, effectKey) => {
  const execution = task.execution!;
  const summary = fillSummary(execution.summary, context);
  const heartbeat = execution.mode === 'activity' && execution.heartbeatTimeout ? { heartbeatTimeout: execution.heartbeatTimeout } : {};
  const options = { startToCloseTimeout: execution.startToCloseTimeout, retry: execution.retry, ...heartbeat };
  const args: [TaskActivityInput] = [{ task, context, effectKey }];
  const firstTry = execution.mode === 'activity' && execution.localFirst
    ? await firstAttemptInWorker(execution.activity, summary, args, execution.localFirst, execution.retry)
    : undefined;
  if (firstTry) return firstTry;
  // A first attempt with `backoff` counted as one of the policy's attempts.
  const counted = execution.mode === 'activity' && execution.localFirst?.backoff === true && execution.retry.maximumAttempts > 1;
  const activities = execution.local
    ? proxyLocalActivities<TaskActivities>(options)
    : proxyActivities<TaskActivities>(counted ? { ...options, retry: { ...execution.retry, maximumAttempts: execution.retry.maximumAttempts - 1 } } : options);
  const outcome = await activities[execution.activity]!.executeWithOptions({ summary }, args);
  // A kind that waits may find nothing to wait for (payment_request: `request_open`); its skip stands as it is.
  if (execution.mode !== 'wait_for_event' || outcome.skipReason !== undefined) return outcome;
  const registered = outcome.output as WaitRegistered;
  const event = await awaitEvent(arrivals, registered, execution.timeoutSeconds);
  return { output: registered.outputWith ? { ...registered.outputWith, event } : event };
};

/**
 * The durable half of wait_for_event: the registration found the event
 * already there, or the API signals it (eventArrived) within the timeout.
 */
async function awaitEvent(arrivals: Arrivals, registered: WaitRegistered, timeoutSeconds: number): Promise<EventEnvelope> {
  if (registered.event) return registered.event;
  const key = arrivalKey(registered.path, registered.value);
  const matching = () => arrivals.get(key)?.find((event) => registered.types.includes(event.type));
  if (!(await condition(() => matching() !== undefined, timeoutSeconds * 1000))) {
    throw new TaskInputError('wait_timeout', `no ${registered.types.join(' or ')} event with ${registered.path} = ${JSON.stringify(registered.value)} arrived within ${timeoutSeconds} s`);
  }
  return matching()!;
}

async function runLegacyTasks(input: TriggerRunInput, state: RunState): Promise<void> {
  const outputs: Record<string, unknown> = {};
  for (const [index, task] of input.trigger.tasks.entries()) {
    const taskState = state.tasks[index]!;
    taskState.status = 'running';
    try {
      const result = await runLegacyTask(task as unknown as LegacyTaskSpec, input, outputs);
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

/** A run past MAX_CHAIN_DEPTH: every task skipped, and the run fails with `chain_too_deep`. */
function failTooDeep(state: RunState, error: TaskError): never {
  state.tasks.forEach((task) => skip(task, `the chain of runs causing each other reached the limit of ${MAX_CHAIN_DEPTH}`));
  state.phase = 'failed';
  state.error = error;
  runMetrics.closed(state.triggerId, 'failed');
  throw ApplicationFailure.nonRetryable(error.message, error.code, error);
}

function skip(task: TaskState, reason: string): void {
  if (task.status !== 'pending' && task.status !== 'running') return;
  task.status = 'skipped';
  task.skipReason = reason;
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
