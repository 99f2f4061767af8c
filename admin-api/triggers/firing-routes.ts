import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { DomainError } from '../../engine/errors';
import { firingIdOf, type FiringStore } from '../../engine/schedules/firing-store';
import { FIRING_WORKFLOW_PREFIX } from '../../engine/schedules/schedule-sync';
import type { TriggerStore } from '../../engine/triggers/trigger-store';
import { scheduledFiring } from '../../workflows/scheduled-firing';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const firingSchema = z
  .object({
    firingId: z.string().openapi({ description: '`<triggerId>@<scheduledAt>`: also the id of the firing\'s `schedule.fired` event.' }),
    triggerId: z.string(),
    triggerVersion: z.number().int().nullable().openapi({ description: 'The trigger version the firing ran; null until it ran, or when the trigger was gone.' }),
    scheduledAt: z.string().openapi({ description: 'The time the firing is for (ISO 8601, UTC).' }),
    sweep: z.boolean().openapi({ description: 'True for a sweep (`forEachAccount` or `forEachRecord`): one run per matching account or record.' }),
    status: z.enum(['pending', 'running', 'completed', 'failed', 'not_run']).openapi({ description: '`pending`: fired through the API, not yet picked up by a worker; `running`: starting runs (a sweep\'s counts grow); `completed`; `failed` (see `error`); `not_run`: the trigger was disabled, deleted or unscheduled when the firing ran (see `reason`).' }),
    matched: z.number().int().openapi({ description: 'Events that matched: 1 or 0 for a plain firing (its `on.filter`); matching accounts for a sweep.' }),
    started: z.number().int().openapi({ description: 'Runs started (a run an earlier attempt of the same firing started counts once).' }),
    throttled: z.number().int().openapi({ description: 'Matches the trigger\'s throttle held back.' }),
    skipped: z.number().int().openapi({ description: 'Matches the trigger\'s singleton held back.' }),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    reason: z.enum(['trigger_disabled', 'trigger_deleted', 'trigger_not_scheduled']).optional(),
    error: z.string().optional(),
    report: z
      .object({
        taskId: z.string().openapi({ description: 'The id of the task in the trigger that reported.' }),
        type: z.literal('subscription_renewals'),
        considered: z.number().int().openapi({ description: 'Subscriptions read.' }),
        due: z.number().int().openapi({ description: 'Due ones (autoRenew on, period ending within the horizon).' }),
        renewed: z.number().int().openapi({ description: 'Renewed: the price debited once for the period and the period extended.' }),
        refused: z.number().int().openapi({ description: 'Not renewed: the balance did not cover the price (`insufficient_funds` and the other refusals).' }),
        failed: z.number().int().openapi({ description: 'Not renewed because of an error that was no refusal; the next firing tries again.' }),
        notified: z.number().int().openapi({ description: 'Expiry notices this firing emailed.' }),
        alreadyNotified: z.number().int().openapi({ description: 'Refused owners whose notice for the period an earlier firing had emailed (once per period: not emailed again).' }),
        finishedAt: z.string().openapi({ description: 'When the task finished (ISO 8601, UTC).' }),
      })
      .optional()
      .openapi('FiringReport', { description: 'The renewal counts of the `subscription_renewals` task of the firing\'s run (the report the admin is emailed, without the lists: those are in the run\'s task output, and per subscription under `GET /v1/subscriptions/{id}/renewals`). Absent until that task has finished (the firing completes when its run has started, the report comes when the task ends), and on firings whose run has no such task.' }),
  })
  .openapi('Firing', { description: 'One firing of a scheduled trigger and what it started.' });

const idParams = z.object({ id: z.string().min(1).max(100) });
const fireBodySchema = z
  .strictObject({
    scheduledAt: z.iso.datetime({ offset: true }).optional().openapi({
      description: 'Fire as of this time instead of now, e.g. to run a firing missed beyond the catch-up window. Not in the future. A time already fired starts nothing new (its ids are derived from it).',
      example: '2026-12-02T06:00:00Z',
    }),
  })
  .openapi('FireRequest');

/** How long `fire` waits for Temporal to take the firing before answering 503. */
const START_DEADLINE_MS = 10_000;

/** How far ahead of this server's clock a `scheduledAt` may be: clocks drift a little between machines. */
const FUTURE_TOLERANCE_MS = 5_000;

/** Firing a scheduled trigger now, and reading what its firings did. */
export function firingRoutes(deps: { triggers: Pick<TriggerStore, 'get'>; firings: FiringStore; temporal: Client; taskQueue: string }): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/triggers/:id/fire', scope: 'admin', tags: ['triggers'],
      summary: 'Fire a scheduled trigger now',
      description: 'Starts a firing as the trigger\'s schedule would (`schedule.fired`, id `<triggerId>@<scheduledAt>`), with `scheduledAt` now unless given, and answers at once with the firing (`pending`); `GET /v1/triggers/{id}/firings/{firingId}` follows it. A firing for a time already fired is answered 202 with that firing, starting nothing new. A trigger without `on.schedule`, or a disabled one, is 409.',
      params: idParams,
      body: fireBodySchema,
      responses: {
        202: { description: 'The firing.', schema: firingSchema },
        404: { description: 'No such trigger.' },
        409: { description: 'The trigger has no schedule (`trigger_not_scheduled`) or is disabled (`trigger_disabled`).' },
        503: { description: 'Temporal did not take the firing (`temporal_unavailable`); the firing is recorded as failed.' },
      },
      handler: async ({ params, body }) => {
        const trigger = await deps.triggers.get(params.id);
        if (!trigger.on.schedule) throw new DomainError('trigger_not_scheduled', 'conflict', `Trigger "${trigger.id}" has no on.schedule; only scheduled triggers fire.`);
        if (!trigger.enabled) throw new DomainError('trigger_disabled', 'conflict', `Trigger "${trigger.id}" is disabled; enable it to fire it.`);
        const at = body.scheduledAt ? new Date(body.scheduledAt) : new Date();
        if (at.getTime() > Date.now() + FUTURE_TOLERANCE_MS) throw new DomainError('scheduled_at_in_future', 'invalid', 'scheduledAt is in the future; a firing for later is the schedule\'s job.', [{ path: 'scheduledAt', message: 'must not be in the future' }]);
        const scheduledAt = at.toISOString();
        const firingId = firingIdOf(trigger.id, scheduledAt);
        await deps.firings.addPending({ triggerId: trigger.id, scheduledAt, sweep: trigger.forEachAccount !== undefined || trigger.forEachRecord !== undefined });
        try {
          await deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, () => deps.temporal.workflow.start(scheduledFiring, {
            workflowId: `${FIRING_WORKFLOW_PREFIX}${firingId}`,
            taskQueue: deps.taskQueue,
            args: [{ triggerId: trigger.id, scheduledAt }],
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            staticSummary: `Firing of trigger "${trigger.name}" (${trigger.id}) at ${scheduledAt}, by the API`,
          }));
        } catch (error) {
          if (!(error instanceof WorkflowExecutionAlreadyStartedError)) {
            // No workflow will ever pick the pending firing up: say so on it, and let the client retry.
            await deps.firings.fail(firingId, `the firing could not be started: ${error instanceof Error ? error.message : String(error)}`);
            throw new DomainError('temporal_unavailable', 'unavailable', 'The firing could not be started (Temporal did not answer); it is recorded as failed. Retry.');
          }
        }
        return { status: 202, body: await deps.firings.get(trigger.id, firingId) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id/firings', scope: 'admin', tags: ['triggers'],
      summary: 'A scheduled trigger\'s firings, newest scheduled time first',
      params: idParams,
      query: pageQuerySchema,
      responses: { 200: { description: 'A page of firings.', schema: z.object({ items: z.array(firingSchema), nextCursor: z.string().nullable() }).openapi('FiringPage') }, 404: { description: 'No such trigger.' } },
      handler: async ({ params, query }) => {
        await deps.triggers.get(params.id);
        return { status: 200, body: await deps.firings.list(params.id, query) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id/firings/:firingId', scope: 'admin', tags: ['triggers'],
      summary: 'One firing of a scheduled trigger',
      params: idParams.extend({ firingId: z.string().min(1).max(200) }),
      responses: { 200: { description: 'The firing.', schema: firingSchema }, 404: { description: 'No such trigger or firing.' } },
      handler: async ({ params }) => {
        await deps.triggers.get(params.id);
        return { status: 200, body: await deps.firings.get(params.id, params.firingId) };
      },
    });
  };
}
