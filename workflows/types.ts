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

export type TaskSpec = ScriptTaskSpec | AccountTaskSpec | EmailTaskSpec;

/** One immutable version of a trigger, as a run received it. */
export interface TriggerSnapshot {
  id: string;
  version: number;
  name: string;
  wait: { seconds: number };
  cancelOn?: { types: string[]; correlate: string };
  tasks: TaskSpec[];
}

export interface TriggerRunInput {
  trigger: TriggerSnapshot;
  event: EventEnvelope;
}

export type TaskStatus = 'pending' | 'running' | 'completed' | 'skipped' | 'failed';

export interface TaskError {
  code: string;
  message: string;
  line?: number;
  column?: number;
}

export interface TaskState {
  id: string;
  type: TaskSpec['type'];
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
  /** Cancellations that arrived after the tasks had started: recorded, not acted on. */
  lateCancellations: Array<CancelRequest & { phase: RunPhase }>;
  tasks: TaskState[];
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
