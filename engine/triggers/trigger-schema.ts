import { contextPath } from '../../tasks/fields';
import { taskSchema } from '../../tasks/registry';
import { z } from '../zod';
import { forEachAccountSchema, forEachRecordSchema, scheduleSchema, singletonSchema, throttleSchema } from './event-sources';
import { filterObjectSchema } from './filter-rules';
import { MAX_FILTER_DEPTH } from './matcher';

/** Bounds on a trigger definition (architecture invariant 8: every input has a limit). */
export const TRIGGER_LIMITS = {
  maxTasks: 20,
  maxWaitSeconds: 31_536_000,
  maxEventTypes: 20,
  maxFilterDepth: MAX_FILTER_DEPTH,
} as const;

import { eventTypeSchema } from './event-type';

export { eventTypeSchema };
/**
 * A trigger's stable, human-chosen name for tools (`creditflow apply` finds a
 * trigger by it): a slug of at most 100 characters, unique among triggers
 * that are not deleted, kept by every later version.
 */
export const triggerKeySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be lowercase letters, digits, ., _ and - (at most 100), starting with a letter or digit')
  .openapi({
    description: 'Optional stable identifier chosen by the admin, e.g. `account-top-up`: unique among triggers that are not deleted (a duplicate is 409), set on create or by a later PUT, never changed afterwards; a PUT without it keeps it. `GET /v1/triggers?key=` finds the trigger by it.',
    example: 'account-top-up',
  });
export { unitSchema } from '../../tasks/fields';
export { taskSchema };

/** A trigger as an admin writes it (POST and PUT bodies). Unknown fields are refused. */
export const triggerDefinitionSchema = z.strictObject({
  key: triggerKeySchema.optional(),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  enabled: z.boolean().default(true),
  on: z
    .strictObject({
      types: z.array(eventTypeSchema).min(1).max(TRIGGER_LIMITS.maxEventTypes).optional().openapi({ description: 'The event types the trigger reacts to; required unless `schedule` is given.' }),
      filter: filterObjectSchema.optional(),
      schedule: scheduleSchema.optional(),
    })
    .superRefine((on, context) => {
      if (on.types === undefined && on.schedule === undefined) context.addIssue({ code: 'custom', path: ['types'], message: 'give the event types to react to, or a schedule' });
      if (on.types !== undefined && on.schedule !== undefined) context.addIssue({ code: 'custom', path: ['schedule'], message: 'a scheduled trigger reacts to its own firings only: leave out types' });
    }),
  wait: z.strictObject({ seconds: z.number().int().min(0).max(TRIGGER_LIMITS.maxWaitSeconds) }).default({ seconds: 0 }),
  cancelOn: z.strictObject({ types: z.array(eventTypeSchema).min(1).max(TRIGGER_LIMITS.maxEventTypes), correlate: contextPath }).optional(),
  tasks: z.array(taskSchema).min(1).max(TRIGGER_LIMITS.maxTasks),
  onLateCancel: z
    .strictObject({
      withinSeconds: z.number().int().min(0).max(TRIGGER_LIMITS.maxWaitSeconds).default(0).openapi({ description: 'How long the run stays open after its tasks for a late cancellation; 0: only one that arrives while they run.' }),
      tasks: z.array(taskSchema).min(1).max(TRIGGER_LIMITS.maxTasks),
    })
    .optional()
    .openapi({ description: 'Tasks run once when a `cancelOn` event arrives after the tasks began (e.g. a compensating debit of what was credited); they see the tasks\' outputs and `cancellation`.' }),
  forEachAccount: forEachAccountSchema.optional(),
  forEachRecord: forEachRecordSchema.optional(),
  throttle: throttleSchema.optional(),
  singleton: singletonSchema.optional(),
});

export type TriggerDefinition = z.infer<typeof triggerDefinitionSchema>;
export type TaskDefinition = z.infer<typeof taskSchema>;
