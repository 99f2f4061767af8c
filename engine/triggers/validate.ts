import { DomainError, type FieldProblem } from '../errors';
import type { TemplateCatalog } from '../mail/templates';
import { normalizeTask, taskProblems } from '../../tasks/registry';
import type { TaskSpec, TriggerSnapshot } from '../../workflows/types';
import { SCHEDULE_FIRED, type ForEachAccount, type ForEachRecord, type ScheduleSpec, type SingletonSpec, type ThrottleSpec } from './event-sources';
import { filterProblem } from './matcher';
import { cronProblem, timezoneProblem } from '../schedules/cron';
import type { TriggerDefinition } from './trigger-schema';

/** What validation needs from the rest of the engine. */
export interface TriggerCheckers {
  /** Null when the script compiles; otherwise the message with line and column in the admin's code. */
  checkScript(code: string): { message: string; line?: number; column?: number } | null;
  /** Problems with a script task's requested limits against the server maximums. */
  checkScriptLimits(limits: { timeoutMs?: number; memoryMb?: number }): Array<{ path: string; message: string }>;
  templates: TemplateCatalog;
  defaultUnit: string;
  /** Hosts a webhook may call although they resolve to private addresses (WEBHOOK_ALLOWED_HOSTS). */
  webhookAllowedHosts?: readonly string[];
  /** Payment gateway names (PAYMENT_GATEWAYS), for payment_request tasks. */
  paymentGateways?: readonly string[];
}

/** A definition that passed validation, with every default filled in. */
export type NormalizedTrigger = Omit<TriggerSnapshot, 'id' | 'version'> & {
  /** Stored beside the definition, not in its versions: see trigger-store.ts. */
  key?: string;
  description?: string;
  enabled: boolean;
  /** A scheduled trigger's types are `["schedule.fired"]`: its own firings. */
  on: { types: string[]; filter?: Record<string, unknown>; schedule?: ScheduleSpec };
  forEachAccount?: ForEachAccount;
  forEachRecord?: ForEachRecord;
  throttle?: ThrottleSpec;
  singleton?: SingletonSpec;
};

/** A cron expression Temporal would read otherwise, or a time zone no one knows, named by path. */
function scheduleProblems(schedule: ScheduleSpec | undefined): FieldProblem[] {
  if (!schedule || !('cron' in schedule)) return [];
  const problems: FieldProblem[] = [];
  const cronError = cronProblem(schedule.cron);
  if (cronError) problems.push({ path: 'on.schedule.cron', message: cronError });
  const zoneError = timezoneProblem(schedule.timezone);
  if (zoneError) problems.push({ path: 'on.schedule.timezone', message: zoneError });
  return problems;
}

/**
 * Checks what the schema cannot: the filter compiles, and every task passes
 * the checks of its kind (tasks/registry.ts: ids unique, references to
 * earlier tasks, scripts compile, templates exist, ...). Throws one
 * DomainError listing every problem by path; returns the definition with
 * defaults filled in.
 */
export async function validateTrigger(definition: TriggerDefinition, checkers: TriggerCheckers): Promise<NormalizedTrigger> {
  const problems: FieldProblem[] = [];
  const filterError = filterProblem(definition.on.filter);
  if (filterError) problems.push({ path: 'on.filter', message: filterError });
  problems.push(...scheduleProblems(definition.on.schedule));
  if (definition.forEachAccount && !definition.on.schedule) problems.push({ path: 'forEachAccount', message: 'a sweep runs on a schedule: give on.schedule' });
  const sweepFilterError = filterProblem(definition.forEachAccount?.filter);
  if (sweepFilterError) problems.push({ path: 'forEachAccount.filter', message: sweepFilterError });
  if (definition.forEachRecord && !definition.on.schedule) problems.push({ path: 'forEachRecord', message: 'a sweep runs on a schedule: give on.schedule' });
  if (definition.forEachRecord && definition.forEachAccount) problems.push({ path: 'forEachRecord', message: 'a trigger sweeps accounts or records, not both' });
  const recordFilterError = filterProblem(definition.forEachRecord?.filter);
  if (recordFilterError) problems.push({ path: 'forEachRecord.filter', message: recordFilterError });
  const throttleZoneError = definition.throttle && 'per' in definition.throttle ? timezoneProblem(definition.throttle.timezone) : undefined;
  if (throttleZoneError) problems.push({ path: 'throttle.timezone', message: throttleZoneError });
  const tasks = definition.tasks as TaskSpec[];
  const taskChecks = { checkScript: checkers.checkScript, checkScriptLimits: checkers.checkScriptLimits, templates: checkers.templates, webhookAllowedHosts: checkers.webhookAllowedHosts ?? [], paymentGateways: checkers.paymentGateways ?? [] };
  problems.push(...(await taskProblems(tasks, taskChecks)));
  const lateTasks = definition.onLateCancel?.tasks as TaskSpec[] | undefined;
  if (lateTasks) {
    if (!definition.cancelOn) problems.push({ path: 'onLateCancel', message: 'answers a cancellation: give cancelOn' });
    // They run after the tasks, in the same context: they may read every task's output, and their ids must differ.
    problems.push(...(await taskProblems(lateTasks, taskChecks, { path: 'onLateCancel.tasks', earlier: tasks.map((task) => task.id) })));
  }
  if (problems.length > 0) throw new DomainError('trigger_invalid', 'invalid', `The trigger has ${problems.length} problem(s).`, problems);
  return {
    ...(definition.key !== undefined ? { key: definition.key } : {}),
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    enabled: definition.enabled,
    on: { ...definition.on, types: definition.on.types ?? [SCHEDULE_FIRED] },
    wait: definition.wait,
    ...(definition.cancelOn ? { cancelOn: definition.cancelOn } : {}),
    tasks: tasks.map((task) => normalizeTask(task, { defaultUnit: checkers.defaultUnit })),
    ...(definition.onLateCancel && lateTasks ? { onLateCancel: { withinSeconds: definition.onLateCancel.withinSeconds, tasks: lateTasks.map((task) => normalizeTask(task, { defaultUnit: checkers.defaultUnit })) } } : {}),
    ...(definition.forEachAccount ? { forEachAccount: definition.forEachAccount } : {}),
    ...(definition.forEachRecord ? { forEachRecord: definition.forEachRecord } : {}),
    ...(definition.throttle ? { throttle: definition.throttle } : {}),
    ...(definition.singleton ? { singleton: definition.singleton } : {}),
  };
}
