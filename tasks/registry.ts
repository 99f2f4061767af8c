/**
 * Every task kind, and what is derived from the list: the trigger schema's
 * task union (and so the OpenAPI document), save-time validation and
 * defaults, the execution plan a run carries, and the templates in use.
 * Adding a kind is one module in tasks/ and one line in TASK_KINDS.
 */
import type { ZodObject } from 'zod';
import type { FieldProblem } from '../engine/errors';
import { filterObjectSchema } from '../engine/triggers/filter-rules';
import { filterProblem } from '../engine/triggers/matcher';
import { z } from '../engine/zod';
import type { TaskSpec } from '../workflows/types';
import { accountKind } from './account';
import { emailKind } from './email';
import { recordKind } from './record';
import { paymentRequestKind } from './payment-request';
import { contextPath, taskIdSchema } from './fields';
import { scriptKind } from './script';
import { transferKind } from './transfer';
import { waitForEventKind } from './wait-for-event';
import { webhookKind } from './webhook';
import { subscriptionRenewalsKind } from './subscription-renewals';
import { executionOf, type NormalizeDefaults, type TaskKind, type ValidationContext } from './task-kind';

export const TASK_KINDS: readonly TaskKind[] = [scriptKind, accountKind, emailKind, transferKind, webhookKind, waitForEventKind, recordKind, paymentRequestKind, subscriptionRenewalsKind] as unknown as readonly TaskKind[];

/** Every task `type`, for enums (OpenAPI, the runs API). */
export const TASK_TYPES = TASK_KINDS.map((kind) => kind.type) as [string, ...string[]];

const byType = new Map(TASK_KINDS.map((kind) => [kind.type, kind]));

/** The kind of a task type; undefined for a type no module handles. */
export function kindOf(type: string): TaskKind | undefined {
  return byType.get(type);
}

/** The fields every task has, whatever its kind. */
const controlFields = {
  id: taskIdSchema,
  when: filterObjectSchema.optional().openapi({ description: 'A MongoDB-style filter over the run context (event, data, reservation, tasks, results, trigger; item and index inside a forEach). When it does not match, the task is skipped; when it throws (e.g. `$toInt` of a non-number), the task fails with `when_failed`. Checked at save like `on.filter`: no `$where`, `$function` or unlisted `$expr` operators, no backtracking-prone `$regex`, no `__proto__` keys.', example: { 'tasks.compute.amount_cents': { $gt: 0 } } }),
  onError: z.enum(['fail', 'continue']).optional().openapi({ description: '`fail` (default): a failure fails the run. `continue`: the task is failed and later tasks still run; they can test `results.<id>.status`.' }),
  forEach: contextPath.optional().openapi({ description: 'A context path to an array of at most 100 items: the task runs once per item, with `item` and `index` in its context and its own idempotency key.' }),
};

/** One task as admins write it: the control fields plus its kind's own, unknown fields refused. */
export const taskSchema = z.discriminatedUnion(
  'type',
  TASK_KINDS.map((kind) => z.strictObject({ ...controlFields, type: z.literal(kind.type), ...(kind.fields as ZodObject).shape })) as unknown as [ZodObject, ...ZodObject[]],
);

/**
 * Problems across a task list: ids unique, `when` filters compile, and each
 * kind's own checks. `list` names the list's path and the ids of tasks that
 * run before it (`onLateCancel.tasks` follow `tasks`, in the same context).
 */
export async function taskProblems(tasks: readonly TaskSpec[], checks: Omit<ValidationContext, 'earlier' | 'at'>, list: { path: string; earlier: readonly string[] } = { path: 'tasks', earlier: [] }): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  const earlier = new Set<string>(list.earlier);
  for (const [index, task] of tasks.entries()) {
    const at = (field: string) => `${list.path}.${index}.${field}`;
    if (earlier.has(task.id)) problems.push({ path: at('id'), message: `task id "${task.id}" is used by an earlier task` });
    const whenProblem = task.when ? filterProblem(task.when) : null;
    if (whenProblem) problems.push({ path: at('when'), message: whenProblem });
    const kind = kindOf(task.type);
    if (!kind) problems.push({ path: at('type'), message: `unknown task type "${task.type}"; known types: ${TASK_TYPES.join(', ')}` });
    else problems.push(...(await kind.validate?.(task, { ...checks, earlier, at }) ?? []));
    earlier.add(task.id);
  }
  return problems;
}

/** The task with its kind's server defaults filled in, as it is stored. */
export function normalizeTask(task: TaskSpec, defaults: NormalizeDefaults): TaskSpec {
  const kind = kindOf(task.type);
  return kind?.normalize ? kind.normalize(task, defaults) : task;
}

/** The tasks as a new run carries them: each with the execution its kind prescribes. */
export function planTasks(tasks: readonly TaskSpec[]): TaskSpec[] {
  return tasks.map((task) => {
    const kind = kindOf(task.type);
    if (!kind) throw new Error(`task "${task.id}" has type "${task.type}", which no task module handles`);
    return { ...task, execution: executionOf(kind, task) };
  });
}

/** Whether any of the tasks runs in the worker, as a local activity for all its attempts or for its first. */
export function runsInWorker(tasks: readonly TaskSpec[]): boolean {
  return tasks.some((task) => {
    const kind = kindOf(task.type);
    return kind !== undefined && kind.execution.mode === 'activity' && (kind.execution.local || kind.execution.localFirst !== undefined);
  });
}

/** The event routes the tasks need before their run starts (wait_for_event). */
export function eventRoutesOf(tasks: readonly TaskSpec[]): Array<{ types: string[]; path: string }> {
  return tasks.flatMap((task) => kindOf(task.type)?.eventRoutes?.(task) ?? []);
}

/** Every template the tasks use. */
export function templatesUsedBy(tasks: readonly TaskSpec[]): string[] {
  return [...new Set(tasks.flatMap((task) => kindOf(task.type)?.templatesUsed?.(task) ?? []))];
}
