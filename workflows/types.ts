/**
 * The shapes a trigger run works on. Pure types, shared by the workflow, the
 * activities and the API; the zod schemas in engine/triggers validate them.
 */

/** An event as the booking or billing system sent it. */
export interface EventEnvelope {
  id: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/**
 * What every task has, whatever its kind: an id unique in the trigger, its
 * kind, and the run control fields. The kind's own fields (validated by its
 * module in tasks/) ride along.
 */
export interface TaskControl {
  id: string;
  type: string;
  /** A MongoDB-style filter over the run context; when it does not match, the task is skipped. */
  when?: Record<string, unknown>;
  /** `fail` (default): a failure fails the run. `continue`: the task is failed and later tasks still run. */
  onError?: 'fail' | 'continue';
  /** A context path to an array (at most 100 items); the task runs once per item. */
  forEach?: string;
  /** How the workflow runs the task; filled in from the task kind when the run starts. */
  execution?: TaskExecution;
}

/** A task as a run receives it: the control fields plus its kind's own fields. */
export type TaskSpec = TaskControl & Record<string, unknown>;

/** A Temporal retry policy as plain data (durations as strings such as `1 second`). */
export interface RetryPlan {
  initialInterval: string;
  backoffCoefficient?: number;
  maximumInterval?: string;
  maximumAttempts: number;
  nonRetryableErrorTypes?: string[];
}

/**
 * How the workflow carries a task out, decided by the task kind's module
 * (tasks/) when the run starts and carried in the run's input, so the
 * workflow itself knows no kind by name.
 */
export type TaskExecution =
  | {
    mode: 'activity';
    /** The activity the worker registered for the kind, e.g. `accountTask`. */
    activity: string;
    /** A local activity runs in the worker without a round trip through the server (pure compute). */
    local: boolean;
    /**
     * Set on a regular activity (`local: false`) whose first attempt runs as
     * a local activity with this timeout and no retry: when it succeeds, the
     * run saves the server round trips; when it fails with an error that may
     * pass, the regular activity carries on under `retry`. With `backoff`
     * (runs started since it came), the run first waits as `retry` would
     * before a second attempt (the failure's own next-retry delay, e.g. a
     * receiver's Retry-After, else `initialInterval`), and the first attempt
     * counts as one of `maximumAttempts`.
     */
    localFirst?: { startToCloseTimeout: string; backoff?: true };
    startToCloseTimeout: string;
    /** Set for a long activity that heartbeats: a worker that died is noticed after this, not after startToCloseTimeout. */
    heartbeatTimeout?: string;
    retry: RetryPlan;
    /** One line for the Temporal UI; `{{path}}` parts are filled from the run context. */
    summary: string;
  }
  | {
    /**
     * `wait_for_event`: the activity registers the wait (and returns the
     * event if it already came); then the workflow waits durably for the
     * `eventArrived` signal, at most `timeoutSeconds`.
     */
    mode: 'wait_for_event';
    activity: string;
    local: false;
    startToCloseTimeout: string;
    retry: RetryPlan;
    summary: string;
    timeoutSeconds: number;
  };

/** What the API signals to a run whose wait_for_event matched an event. */
export interface EventArrival {
  path: string;
  value: string;
  event: EventEnvelope;
}

/** What a wait_for_event registration returns to the workflow. */
export interface WaitRegistered {
  path: string;
  value: string;
  types: string[];
  /** The event, when it had already arrived. */
  event?: EventEnvelope;
  /**
   * What the task outputs beside the event (payment_request: the request it
   * created). Absent (wait_for_event, and every run recorded before it
   * existed): the output is the event itself.
   */
  outputWith?: Record<string, unknown>;
}

/** The legacy task shapes, as runs started before task kinds were modules carry them. */
export interface ScriptTaskSpec {
  id: string;
  type: 'script';
  code: string;
  timeoutMs?: number;
  memoryMb?: number;
}

export interface AccountTaskSpec {
  id: string;
  type: 'account';
  action: 'credit' | 'debit';
  /** A literal amount in minor units; otherwise the input task's `amount_cents`. */
  amount?: number;
  inputTaskId?: string;
  /** A `{{path}}` reference or a literal owner id. */
  owner: string;
  unit: string;
  createIfMissing: boolean;
  comment?: string;
}

export interface EmailTaskSpec {
  id: string;
  type: 'email';
  inputTaskId?: string;
  /** A `{{path}}` reference or a literal address. */
  to: string;
  template?: string;
  subject?: string;
  text?: string;
  html?: string;
}

export type LegacyTaskSpec = ScriptTaskSpec | AccountTaskSpec | EmailTaskSpec;

/** A task's outcome as later tasks see it under `results.<id>`. */
export interface TaskResult {
  status: 'completed' | 'skipped' | 'failed';
  output?: unknown;
  error?: TaskError;
}

/**
 * What `when`, templates, `amountFrom`, `forEach` and scripts see: the event,
 * its data and reservation, earlier outputs by task id (`tasks`) and
 * outcomes (`results`), the trigger, and inside a `forEach` the `item` and
 * its `index`.
 */
export interface RunContext {
  event: EventEnvelope;
  data: Record<string, unknown>;
  reservation?: unknown;
  /** The record a `forEachRecord` sweep started the run for, as it was when the sweep matched it. */
  record?: RecordContext;
  tasks: Record<string, unknown>;
  results: Record<string, TaskResult>;
  trigger: { id: string; name: string; version: number };
  /**
   * The run: its workflow id, when it started, and for a run an internal
   * event started, its chain depth (RunCause.depth; absent: 0). Absent in a
   * dry run.
   */
  run?: { workflowId: string; startedAt: string; depth?: number };
  /** The account the run is about, when its event names one (balance events, sweeps, events naming an owner). */
  account?: AccountContext;
  /** The profile of the customer the event names, when one exists (engine/customers/run-context.ts). */
  customer?: CustomerContext;
  /** The run's owner context was not read when its event arrived (TriggerRunInput.ownerDeferred); not a template variable. */
  ownerDeferred?: boolean;
  /** The credit package the event matched, chosen when the event was ingested (runs whose trigger has `amountFrom: "package"`). */
  package?: PackageSelection;
  /** In `onLateCancel` tasks: the cancellation they answer. */
  cancellation?: CancelRequest;
  item?: unknown;
  index?: number;
}

/** What an activity of a task kind receives: the task, the context it runs in, and its effect key. */
export interface TaskActivityInput {
  task: TaskSpec;
  context: RunContext;
  /** `<workflowId>:<taskId>`, with `:<index>` inside a forEach: the idempotency key of the task's effect. */
  effectKey: string;
}

/** What a task kind's activity returns: the output, or why it did nothing. */
export interface TaskOutcome {
  output: unknown;
  skipReason?: string;
}

/**
 * The account a run is about, in its context as `account`: the account of a
 * balance event (its balance after the entry) or of a sweep's run (its
 * balance when the sweep matched it).
 */
export interface AccountContext {
  ownerId: string;
  unit: string;
  balance: number;
}

/**
 * The customer a run is about, in its context as `customer`: the profile as
 * it was when the event was ingested (a run in flight never sees later
 * edits), so `{{customer.autoTopUp.threshold}}` and `when` on
 * `customer.attributes.*` work. Amounts are minor units of `autoTopUp.unit`.
 */
export interface CustomerContext {
  ownerId: string;
  email: string | null;
  name: string | null;
  groupId: string | null;
  attributes: Record<string, unknown>;
  autoTopUp: { enabled: boolean; threshold: number; amount: number; unit: string } | null;
}

/**
 * The record of an external object a sweep's run is about (engine/records):
 * `record` in its context. Amounts are minor units of `unit`.
 */
export interface RecordContext {
  kind: string;
  id: string;
  ownerId: string | null;
  state: string;
  amount: number | null;
  unit: string | null;
  attributes: Record<string, unknown>;
  version: number;
  updatedAt: string;
}

/**
 * Why a run started by an internal event exists: the event, the run whose
 * posting produced it (when a run did), and the chain's depth: 1 for a run
 * that a client's posting caused, one more than its cause's for a run that
 * another run caused. Runs past MAX_CHAIN_DEPTH run no task.
 */
export interface RunCause {
  eventId: string;
  workflowId?: string;
  depth: number;
}

/** One immutable version of a trigger, as a run received it. */
export interface TriggerSnapshot {
  id: string;
  version: number;
  name: string;
  wait: { seconds: number };
  cancelOn?: { types: string[]; correlate: string };
  tasks: TaskSpec[];
  /** Tasks run when a cancellation arrives after the tasks began (and at most `withinSeconds` after they ended), e.g. a compensating debit. */
  onLateCancel?: OnLateCancel;
}

/** A trigger's answer to a cancellation that came too late to stop its tasks. */
export interface OnLateCancel {
  /** How long the run stays open after its tasks for a late cancellation (0: only one that arrived while they ran). */
  withinSeconds: number;
  tasks: TaskSpec[];
}

export interface TriggerRunInput {
  trigger: TriggerSnapshot;
  event: EventEnvelope;
  /** The account the run is about (balance events, sweeps, events naming an owner); `account` in its context. */
  account?: AccountContext;
  /** The customer profile of the owner the event names, when one exists; `customer` in its context. */
  customer?: CustomerContext;
  /** Set on runs that an internal event started. */
  cause?: RunCause;
  /**
   * Set when the owner context was not read at ingestion because nothing in
   * the trigger names it (engine/customers/owner-reads.ts): an email whose
   * template names `customer` or `account` reads it as it renders.
   */
  ownerDeferred?: boolean;
  /** The package the event matched, snapshotted at match time, on runs whose trigger credits `amountFrom: "package"`; `package` in its context. */
  package?: PackageSelection;
  /** A cancellation that arrived before the run started (held for its correlation value): the run ends as cancelled without tasks. */
  heldCancellation?: CancelRequest;
  /**
   * Set on a run that can be cancelled (`cancelOn`) and runs a task in the
   * worker (a local activity). Before its first task it calls the no-op
   * `tasksBegin` activity, so Temporal has recorded that the tasks began
   * before any of them takes effect. Without it, a cancellation arriving
   * while the local tasks run could make Temporal refuse the workflow task
   * that ran them (it also completed the run, and a new event came), or a
   * crash could lose that workflow task; its retry then sees the
   * cancellation before the tasks and ends the run as cancelled although
   * its credit was posted and its email sent. (A timer would do the same
   * but fires about a second late on the Temporal server.)
   */
  tasksBeginRecorded?: boolean;
  /**
   * Set instead of `tasksBeginRecorded` on such a run without a wait: its
   * tasks begin when it starts, so a cancellation signal is always a late
   * one, whenever it is delivered (a cancellation that came before the run
   * started is `heldCancellation`). The outcome then does not depend on
   * whether the signal reached the run before its first workflow task,
   * and the run needs no extra round trip through Temporal.
   */
  runningFromStart?: boolean;
}

/**
 * The credit package a run credits, as its version was when the event
 * matched: a price edit while the run waits changes nothing for it. Amounts
 * are minor units of `price.currency` and `credits.unit`.
 */
export interface PackageSnapshot {
  id: string;
  version: number;
  name: string;
  price: { amount: number; currency: string };
  credits: { amount: number; unit: string };
}

/**
 * Which package an event matched: exactly one (`matched`, with its
 * snapshot), none, or several (`ambiguous`: the account task fails with
 * `package_ambiguous` and credits nothing).
 */
export type PackageSelection =
  | ({ status: 'matched' } & PackageSnapshot)
  | { status: 'none' }
  | { status: 'ambiguous'; candidates: Array<{ id: string; version: number }> };

export type TaskStatus = 'pending' | 'running' | 'completed' | 'skipped' | 'failed';

export interface TaskError {
  code: string;
  message: string;
  line?: number;
  column?: number;
}

export interface TaskState {
  id: string;
  type: string;
  status: TaskStatus;
  output?: unknown;
  error?: TaskError;
  skipReason?: string;
}

export interface CancelRequest {
  eventId: string;
  eventType: string;
}

export type RunPhase = 'waiting' | 'running' | 'completed' | 'failed' | 'cancelled';

/** What the status query returns, and the run's result. */
export interface RunState {
  phase: RunPhase;
  triggerId: string;
  triggerVersion: number;
  eventId: string;
  waitSeconds: number;
  cancelledBy?: CancelRequest;
  /** Cancellations that arrived after the tasks had started: recorded, and answered by `onLateCancel` when the trigger has it. */
  lateCancellations: Array<CancelRequest & { phase: RunPhase }>;
  tasks: TaskState[];
  /** The trigger's `onLateCancel` tasks, once a late cancellation made them run. */
  lateCancelTasks?: TaskState[];
  /** Why the run exists, when an internal event started it. */
  cause?: RunCause;
  /** Why the run failed before any task could (`chain_too_deep`); a task's failure is on the task. */
  error?: TaskError;
  /** The package this run credits (id and version, snapshotted when its event matched), on runs whose trigger uses `amountFrom: "package"`. */
  package?: PackageSelection;
}

/**
 * What a run reports to its worker outside the workflow's history (Temporal
 * sinks): calls are dropped during replay, so each run is counted once.
 */
export type RunSinks = {
  runMetrics: {
    /** The run closed as completed, failed or cancelled. */
    closed(triggerId: string, status: 'completed' | 'failed' | 'cancelled'): void;
  };
};
