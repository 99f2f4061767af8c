import { isGrpcServiceError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
// Not re-exported from the package root; the same decoder the client's own list() uses.
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { temporal } from '@temporalio/proto';
import { createHash } from 'node:crypto';
import { decodeCursorKey, encodeCursorKey } from '../cursor';
import { DomainError } from '../errors';
import { temporalUiRunUrl } from '../temporal';
import { eventIdKey, triggerIdKey } from '../../workflows/search-attributes';
import { runStateQuery } from '../../workflows/trigger-run';
import type { RunState, TaskState } from '../../workflows/types';

export const RUN_STATUSES = ['running', 'completed', 'failed', 'cancelled', 'terminated'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunSummary {
  workflowId: string;
  runId: string;
  triggerId: string | null;
  eventId: string | null;
  status: RunStatus;
  startedAt: string | null;
  closedAt?: string;
  temporalUiUrl: string;
}

export interface RunDetail extends RunSummary {
  phase: RunState['phase'] | null;
  triggerVersion: number | null;
  tasks: TaskState[];
  cancelledBy?: RunState['cancelledBy'];
  lateCancellations: RunState['lateCancellations'];
  /** The trigger's onLateCancel tasks, once a late cancellation made them run. */
  lateCancelTasks?: TaskState[];
  /** Why the run exists, when an internal event (a balance change) started it. */
  cause?: RunState['cause'];
  /** Why the run failed before any task ran (`chain_too_deep`). */
  error?: RunState['error'];
  /** The package the run credits, as it was when its event matched. */
  package?: RunState['package'];
}

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;
const STATUS_BY_CODE: Record<number, RunStatus> = {
  [Status.WORKFLOW_EXECUTION_STATUS_RUNNING]: 'running',
  [Status.WORKFLOW_EXECUTION_STATUS_COMPLETED]: 'completed',
  [Status.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW]: 'completed',
  [Status.WORKFLOW_EXECUTION_STATUS_FAILED]: 'failed',
  [Status.WORKFLOW_EXECUTION_STATUS_TIMED_OUT]: 'failed',
  [Status.WORKFLOW_EXECUTION_STATUS_CANCELED]: 'cancelled',
  [Status.WORKFLOW_EXECUTION_STATUS_TERMINATED]: 'terminated',
};
const VISIBILITY_STATUS: Record<RunStatus, string> = {
  running: "ExecutionStatus = 'Running'",
  completed: "ExecutionStatus = 'Completed'",
  failed: "(ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut')",
  cancelled: "ExecutionStatus = 'Canceled'",
  terminated: "ExecutionStatus = 'Terminated'",
};

/** Trigger ids as the trigger store creates them (`trg_` and 8 random bytes in hex). */
export const TRIGGER_ID_PATTERN = /^trg_[0-9a-f]{16}$/;

interface RunCursor { p: string; q: string }

const isRunCursor = (value: Record<string, unknown>): value is RunCursor & Record<string, string> =>
  typeof value.p === 'string' && /^[A-Za-z0-9_-]{1,400}$/.test(value.p) && typeof value.q === 'string';

/** Ties a page token to the query it pages through, so a cursor from other filters is refused, not sent. */
function queryTag(query: string): string {
  return createHash('sha256').update(query).digest('base64url').slice(0, 16);
}

function invalidCursor(): DomainError {
  return new DomainError('cursor_invalid', 'invalid', 'The cursor is not one this endpoint returned for these filters.', [{ path: 'cursor', message: 'is not a cursor from a previous page of this list' }]);
}

/**
 * The cursor is Temporal's page token wrapped with a tag of the visibility
 * query, so garbage (`AAAA`) and cursors of other filters are refused here
 * instead of reaching Temporal. A token Temporal still refuses is
 * `cursor_invalid` too.
 */
function pageTokenOf(cursor: string, query: string): Buffer {
  const { p, q } = decodeCursorKey(cursor, isRunCursor);
  if (q !== queryTag(query)) throw invalidCursor();
  return Buffer.from(p, 'base64url');
}

/** Values go into a visibility query between single quotes; refuse what could break out. */
function quoted(value: string, field: string): string {
  if (/['"\\]/.test(value)) throw new DomainError('filter_invalid', 'invalid', `${field} may not contain quotes or backslashes.`, [{ path: field, message: 'may not contain quotes or backslashes' }]);
  return `'${value}'`;
}

/** gRPC status 3, INVALID_ARGUMENT: how Temporal refuses a page token it cannot read. */
const GRPC_INVALID_ARGUMENT = 3;

function isInvalidArgument(error: unknown): boolean {
  return isGrpcServiceError(error) && error.code === GRPC_INVALID_ARGUMENT;
}

function isoOf(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

/** Reads runs from Temporal: the list from visibility, one run's tasks from its query. */
/** How long a run's state query may wait for a worker to answer before the read gives up with 503. */
const STATE_QUERY_DEADLINE_MS = 5_000;

export function createRunReader(deps: { client: Client; namespace: string; temporalUiUrl: string }) {
  /**
   * The run's state: a completed run returned it as its result, which the
   * server answers from the history alone; any other run is asked through
   * the `runState` query, which needs a worker, within a deadline (503
   * `run_state_unavailable` past it, never a hang or a 500).
   */
  async function runState(handle: WorkflowHandle, status: string): Promise<RunState> {
    if (status === 'COMPLETED') return (await handle.result()) as RunState;
    try {
      return await deps.client.withDeadline(Date.now() + STATE_QUERY_DEADLINE_MS, () => handle.query(runStateQuery));
    } catch (error) {
      throw new DomainError('run_state_unavailable', 'unavailable', `No worker answered for run "${handle.workflowId}" within ${STATE_QUERY_DEADLINE_MS / 1000} s (${error instanceof Error ? error.message : String(error)}); retry once a worker runs.`);
    }
  }

  const uiUrl = (workflowId: string, runId: string) => temporalUiRunUrl(deps.temporalUiUrl, deps.namespace, workflowId, runId);

  return {
    async list(options: { triggerId?: string; eventId?: string; status?: RunStatus; limit: number; cursor?: string }): Promise<{ items: RunSummary[]; nextCursor: string | null }> {
      const clauses = ["WorkflowType = 'triggerRun'"];
      if (options.triggerId) clauses.push(`${triggerIdKey.name} = ${quoted(options.triggerId, 'triggerId')}`);
      if (options.eventId) clauses.push(`${eventIdKey.name} = ${quoted(options.eventId, 'eventId')}`);
      if (options.status) clauses.push(VISIBILITY_STATUS[options.status]);
      const query = clauses.join(' AND ');
      const nextPageToken = options.cursor ? pageTokenOf(options.cursor, query) : undefined;
      const response = await deps.client.workflowService.listWorkflowExecutions({
        namespace: deps.namespace,
        query,
        pageSize: options.limit,
        ...(nextPageToken ? { nextPageToken } : {}),
      }).catch((error: unknown) => {
        if (nextPageToken && isInvalidArgument(error)) throw invalidCursor();
        throw error;
      });
      const items = (response.executions ?? []).map((info): RunSummary => {
        const attributes = decodeTypedSearchAttributes(info.searchAttributes?.indexedFields);
        const workflowId = info.execution?.workflowId ?? '';
        const runId = info.execution?.runId ?? '';
        const closedAt = isoOf(info.closeTime);
        return {
          workflowId, runId,
          triggerId: attributes.get(triggerIdKey) ?? null,
          eventId: attributes.get(eventIdKey) ?? null,
          status: STATUS_BY_CODE[info.status ?? 0] ?? 'running',
          startedAt: isoOf(info.startTime),
          ...(closedAt ? { closedAt } : {}),
          temporalUiUrl: uiUrl(workflowId, runId),
        };
      });
      const token = response.nextPageToken;
      return { items, nextCursor: token && token.length > 0 ? encodeCursorKey({ p: Buffer.from(token).toString('base64url'), q: queryTag(query) }) : null };
    },

    async get(workflowId: string): Promise<RunDetail> {
      const handle = deps.client.workflow.getHandle(workflowId);
      let description;
      try {
        description = await handle.describe();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) throw new DomainError('run_not_found', 'not_found', `No run with workflow id "${workflowId}".`);
        throw error;
      }
      const state = await runState(handle, description.status.name);
      const temporalStatus = STATUS_BY_CODE[description.status.code] ?? 'running';
      // A run cancelled by signal whose cancellation request never came closes as Completed; it was still cancelled.
      const status: RunStatus = temporalStatus === 'completed' && state.phase === 'cancelled' ? 'cancelled' : temporalStatus;
      return {
        workflowId,
        runId: description.runId,
        triggerId: description.typedSearchAttributes.get(triggerIdKey) ?? state.triggerId,
        eventId: description.typedSearchAttributes.get(eventIdKey) ?? state.eventId,
        status,
        startedAt: description.startTime.toISOString(),
        ...(description.closeTime ? { closedAt: description.closeTime.toISOString() } : {}),
        temporalUiUrl: uiUrl(workflowId, description.runId),
        phase: state.phase,
        triggerVersion: state.triggerVersion,
        tasks: state.tasks,
        ...(state.cancelledBy ? { cancelledBy: state.cancelledBy } : {}),
        lateCancellations: state.lateCancellations,
        ...(state.lateCancelTasks ? { lateCancelTasks: state.lateCancelTasks } : {}),
        ...(state.cause ? { cause: state.cause } : {}),
        ...(state.error ? { error: state.error } : {}),
        ...(state.package ? { package: state.package } : {}),
      };
    },
  };
}

export type RunReader = ReturnType<typeof createRunReader>;
