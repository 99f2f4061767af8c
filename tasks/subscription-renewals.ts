import { Context } from '@temporalio/activity';
import type { RenewalCheckpoint } from '../engine/subscriptions/renewal-sweep';
import { z } from '../engine/zod';
import { MAX_PERIOD_DAYS } from '../engine/subscriptions/subscription-rules';
import { SCHEDULE_FIRED } from '../engine/triggers/event-sources';
import { TaskInputError } from '../workflows/task-inputs';
import type { TaskSpec } from '../workflows/types';
import type { TaskKind } from './task-kind';

type RenewalTask = TaskSpec & { horizonDays: number };

const DAY_MS = 86_400_000;

/**
 * `subscription_renewals`: the renewal sweep (engine/subscriptions) as a
 * task, for the scheduled trigger the product ships
 * (examples/subscription-renewals). Renews every subscription whose period
 * ends within `horizonDays`, emails an expiry notice to each owner whose
 * balance does not cover the price, and outputs the report (counts, the
 * first 100 refusals and failures) for a later email task to send the admin;
 * in a run a firing started, the counts also go on the firing's summary
 * (`report` on GET /v1/triggers/{id}/firings/{firingId}).
 * Every renewal is idempotent per period, so a retried task is safe; it
 * resumes from the checkpoint its last attempt heartbeated.
 */
export const subscriptionRenewalsKind: TaskKind<RenewalTask, { horizonMs: number }> = {
  type: 'subscription_renewals',
  fields: z.object({
    horizonDays: z.number().int().min(0).max(MAX_PERIOD_DAYS).default(1).openapi({ description: 'Renew subscriptions whose period ends within this many days (0: those that have ended).' }),
  }),
  validate: () => [],
  normalize: (task) => task,
  execution: {
    mode: 'activity',
    local: false,
    // One pass over every subscription: 10,000 take minutes, not hours.
    startToCloseTimeout: '30 minutes',
    // The pass heartbeats its checkpoint after each batch of 200: an attempt on a worker that died is retried within this, from its last batch.
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
  },
  summary: (task) => `renew subscriptions ending within ${task.horizonDays} days`,
  prepare: (task) => ({ horizonMs: task.horizonDays * DAY_MS }),
  async execute(prepared, deps, task, context) {
    const renewDue = deps.renewDueSubscriptions;
    if (!renewDue) throw new TaskInputError('subscriptions_unavailable', 'this worker was built without subscription renewals');
    // A retried attempt goes on after the last batch the one before it finished, with its counts.
    const activity = Context.current();
    const resume = activity.info.heartbeatDetails as RenewalCheckpoint | undefined;
    const report = await renewDue({ ...prepared, ...(resume ? { resume } : {}), onBatch: (checkpoint) => activity.heartbeat(checkpoint) });
    // A run a firing started: its event id is the firing id, and the firing summary shows the counts.
    if (context.event.type === SCHEDULE_FIRED && deps.firingReports) {
      const { considered, due, renewed, refused, failed, notified, alreadyNotified } = report;
      await deps.firingReports.recordReport(context.event.id, context.trigger.id, {
        taskId: task.id, type: 'subscription_renewals', considered, due, renewed, refused, failed, notified, alreadyNotified, finishedAt: new Date().toISOString(),
      });
    }
    return { output: report };
  },
  async simulate() {
    return { output: null, skipReason: 'a dry run does not renew subscriptions' };
  },
};
