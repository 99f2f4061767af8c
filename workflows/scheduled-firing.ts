import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { FiringActivities } from '../engine/schedules/fire';
import type { FiringSummary } from '../engine/schedules/firing-store';

/** What a schedule (or POST /v1/triggers/{id}/fire) starts a firing with. */
export interface ScheduledFiringInput {
  triggerId: string;
  /** Given by `fire`; a schedule's firing takes its scheduled time from Temporal instead. */
  scheduledAt?: string;
}

/** Set by Temporal on every workflow a schedule starts: the time the action was scheduled for. */
const scheduledStartTimeKey = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

const { fireTrigger } = proxyActivities<FiringActivities>({
  // A sweep over 100,000 accounts takes minutes; the heartbeat, sent as
  // each of its runs starts and after every batch, tells a dead worker
  // from a long sweep, and the retry resumes from the last batch it
  // checkpointed. A firing whose worker died resumes within about this
  // timeout; until then the schedule skips its next firings (one firing of
  // a trigger at a time), so it is kept short.
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  // Store or Temporal trouble passes; after the last attempt the firing is
  // marked failed, and the schedule's next firing is not blocked by it.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 12 },
});

const { recordFiringFailure } = proxyActivities<FiringActivities>({
  // One conditional update of the firing's summary.
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20 },
});

/**
 * One firing of a scheduled trigger. Its time is fixed when the workflow
 * starts (the schedule's scheduled time, or the one `fire` passed), so every
 * retry derives the same firing, event and run ids from it.
 */
export async function scheduledFiring(input: ScheduledFiringInput): Promise<FiringSummary> {
  const info = workflowInfo();
  const scheduledAt = input.scheduledAt ?? (info.typedSearchAttributes.get(scheduledStartTimeKey) ?? info.startTime).toISOString();
  const firing = { triggerId: input.triggerId, scheduledAt };
  try {
    return await fireTrigger(firing);
  } catch (error) {
    const message = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    await recordFiringFailure({ ...firing, message });
    throw ApplicationFailure.nonRetryable(`the firing of ${input.triggerId} at ${scheduledAt} failed: ${message}`, 'firing_failed');
  }
}
