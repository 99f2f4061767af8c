import { z } from '../engine/zod';
import { MAX_PERIOD_DAYS } from '../engine/subscriptions/subscription-rules';
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
 * first 100 refusals and failures) for a later email task to send the admin.
 * Every renewal is idempotent per period, so a retried task is safe.
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
    // One pass over every subscription: 10,000 take minutes, not hours; a crashed attempt is retried after this.
    startToCloseTimeout: '30 minutes',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
  },
  summary: (task) => `renew subscriptions ending within ${task.horizonDays} days`,
  prepare: (task) => ({ horizonMs: task.horizonDays * DAY_MS }),
  async execute(prepared, deps) {
    const renewDue = deps.renewDueSubscriptions;
    if (!renewDue) throw new TaskInputError('subscriptions_unavailable', 'this worker was built without subscription renewals');
    return { output: await renewDue(prepared) };
  },
  async simulate() {
    return { output: null, skipReason: 'a dry run does not renew subscriptions' };
  },
};
