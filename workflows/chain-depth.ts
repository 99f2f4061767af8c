/**
 * The limit on chains of runs causing each other. A run's entry changes a
 * balance, the balance event starts a run, whose entry changes a balance...
 * A trigger that credits the account whose change it reacts to would loop
 * for ever; the chain's depth (RunCause.depth) stops it. Pure, so the
 * workflow and the engine apply the same rule.
 */
import type { RunCause, TaskError } from './types';

/** The deepest run that still runs its tasks: 5 runs, each started by the previous one's balance change. */
export const MAX_CHAIN_DEPTH = 5;

/** The depth of the runs a balance change starts: 1 after a client's posting, else one more than the posting run's. */
export function depthAfter(postingRunDepth: number | undefined): number {
  return (postingRunDepth ?? 0) + 1;
}

/** Why a run runs no task, when its cause is past the limit; undefined otherwise (runs without a cause have depth 0). */
export function chainTooDeep(cause: RunCause | undefined): TaskError | undefined {
  if (!cause || cause.depth <= MAX_CHAIN_DEPTH) return undefined;
  return {
    code: 'chain_too_deep',
    message: `the chain of runs causing each other reached the limit of ${MAX_CHAIN_DEPTH}: this run (depth ${cause.depth}, started by event ${cause.eventId}${cause.workflowId ? ` of run ${cause.workflowId}` : ''}) runs no task`,
  };
}
