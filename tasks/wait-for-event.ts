import { correlationKey } from '../engine/events/cancel-index';
import { eventTypeSchema } from '../engine/triggers/event-type';
import { z } from '../engine/zod';
import { isMalformedReference } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { TaskSpec, WaitRegistered } from '../workflows/types';
import { contextPath } from './fields';
import type { TaskKind } from './task-kind';

/** The longest a run may wait for an event: a year, like a trigger's window. */
export const MAX_WAIT_SECONDS = 31_536_000;

type WaitTask = TaskSpec & {
  types: string[];
  correlate: { path: string; equals: string };
  timeoutSeconds: number;
};

interface PreparedWait {
  types: string[];
  path: string;
  value: string;
  notBefore: Date;
  workflowId: string;
  effectKey: string;
}

/**
 * `wait_for_event`: the run waits, durably, until an event of `types`
 * arrives whose value at `correlate.path` equals `correlate.equals` (a
 * literal or a `{{path}}` into the run context, such as the id of the
 * payment request an earlier webhook created). Its output is that event.
 * An event that arrives before the task starts (but after the run started)
 * releases it too; a timeout is a final failure, `wait_timeout`. Routing is
 * engine/events/event-waits.ts.
 */
export const waitForEventKind: TaskKind<WaitTask, PreparedWait> = {
  type: 'wait_for_event',
  fields: z.object({
    types: z.array(eventTypeSchema).min(1).max(20),
    correlate: z.strictObject({
      path: contextPath.openapi({ description: 'Where the awaited event holds the value, e.g. `data.paymentRequest.id`.' }),
      equals: z.string().min(1).max(500).openapi({ description: 'The value to wait for: a literal, or one `{{path}}` into the run context.' }),
    }),
    timeoutSeconds: z.number().int().min(1).max(MAX_WAIT_SECONDS),
  }),
  validate(task, { at }) {
    return isMalformedReference(task.correlate.equals) ? [{ path: at('correlate.equals'), message: 'must be a literal or one whole {{path}} reference' }] : [];
  },
  eventRoutes: (task) => [{ types: task.types, path: task.correlate.path }],
  execution: {
    mode: 'wait_for_event',
    local: false,
    // Registering is a few inserts and reads; the wait itself is a durable timer in the workflow.
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
  },
  summary: (task) => `wait for ${task.types.join(' or ')} where ${task.correlate.path} = ${task.correlate.equals}`,
  prepare(task, context, effect) {
    const resolved = resolveField(task.correlate.equals, context as unknown as Record<string, unknown>, 'correlate.equals');
    const value = correlationKey(resolved);
    if (value === undefined) throw new TaskInputError('correlation_invalid', `correlate.equals must resolve to a string of 1 to 500 characters or a number; got ${JSON.stringify(resolved)}`);
    return { types: task.types, path: task.correlate.path, value, notBefore: new Date(context.run?.startedAt ?? 0), workflowId: effect.workflowId, effectKey: effect.key };
  },
  async execute(wait, deps) {
    const event = await deps.eventWaits.register(wait);
    const registered: WaitRegistered = { path: wait.path, value: wait.value, types: wait.types, ...(event ? { event } : {}) };
    return { output: registered };
  },
  async simulate(wait) {
    return { output: null, preview: { wait: { types: wait.types, path: wait.path, equals: wait.value } } };
  },
};
