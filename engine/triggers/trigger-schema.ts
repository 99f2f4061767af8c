import { z } from '../zod';

/** Bounds on a trigger definition (architecture invariant 8: every input has a limit). */
export const TRIGGER_LIMITS = {
  maxTasks: 20,
  maxWaitSeconds: 31_536_000,
  maxEventTypes: 20,
  maxScriptCodeBytes: 64 * 1024,
  maxFilterDepth: 12,
} as const;

const taskId = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must start with a letter and hold only letters, digits, _ and - (at most 64)');
/** `<object>.<action>`, e.g. request.created or account.balance_changed. */
export const eventTypeSchema = z.string().max(100).regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'must look like <object>.<action>, e.g. request.created');
const dottedPath = z.string().max(200).regex(/^[A-Za-z_$][\w$]*(\.[\w$-]+)*$/, 'must be a dotted path such as data.reservation.id');
const reference = z.string().min(1).max(320);
const templateName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lowercase letters, digits and - (at most 64)');
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
export const unitSchema = z.string().regex(/^([A-Z]{3}|CREDIT)$/, 'must be an ISO 4217 code such as USD, or CREDIT');

const scriptTask = z.strictObject({
  id: taskId,
  type: z.literal('script'),
  code: z.string().min(1).max(TRIGGER_LIMITS.maxScriptCodeBytes),
  timeoutMs: z.number().int().min(1).optional(),
  memoryMb: z.number().int().min(1).optional(),
});

const accountTask = z
  .strictObject({
    id: taskId,
    type: z.literal('account'),
    action: z.enum(['credit', 'debit']),
    amount: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    inputTaskId: taskId.optional(),
    owner: reference.default('{{reservation.user.id}}'),
    unit: unitSchema.optional(),
    createIfMissing: z.boolean().default(false),
    comment: z.string().max(500).optional(),
  })
  .refine((task) => (task.amount === undefined) !== (task.inputTaskId === undefined), {
    message: 'give either amount (an integer in minor units) or inputTaskId (a task returning amount_cents), not both',
    path: ['amount'],
  });

const emailTask = z
  .strictObject({
    id: taskId,
    type: z.literal('email'),
    inputTaskId: taskId.optional(),
    to: reference.default('{{reservation.user.email}}'),
    template: templateName.optional(),
    subject: z.string().min(1).max(998).optional(),
    text: z.string().min(1).max(100_000).optional(),
    html: z.string().min(1).max(200_000).optional(),
  })
  .refine((task) => task.template !== undefined || (task.subject !== undefined && task.text !== undefined), {
    message: 'give a template, or an inline subject and text',
    path: ['template'],
  });

export const taskSchema = z.union([scriptTask, accountTask, emailTask]);

/** A trigger as an admin writes it (POST and PUT bodies). Unknown fields are refused. */
export const triggerDefinitionSchema = z.strictObject({
  key: triggerKeySchema.optional(),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  enabled: z.boolean().default(true),
  on: z.strictObject({
    types: z.array(eventTypeSchema).min(1).max(TRIGGER_LIMITS.maxEventTypes),
    filter: z.record(z.string(), z.unknown()).optional(),
  }),
  wait: z.strictObject({ seconds: z.number().int().min(0).max(TRIGGER_LIMITS.maxWaitSeconds) }).default({ seconds: 0 }),
  cancelOn: z.strictObject({ types: z.array(eventTypeSchema).min(1).max(TRIGGER_LIMITS.maxEventTypes), correlate: dottedPath }).optional(),
  tasks: z.array(taskSchema).min(1).max(TRIGGER_LIMITS.maxTasks),
});

export type TriggerDefinition = z.infer<typeof triggerDefinitionSchema>;
export type TaskDefinition = z.infer<typeof taskSchema>;
