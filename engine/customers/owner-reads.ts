/**
 * Which runs need their owner context (run-context.ts: `customer` and
 * `account`) read when their event arrives. Reading it costs an event up to
 * three store reads (the profile, the account, and the account's first entry
 * when it has no document), so ingestion reads it only for a trigger that
 * names it somewhere: its filter, a task's fields (`when`, paths, `{{...}}`
 * references), a script's code, or another field of the trigger (a
 * `throttle` or `singleton` key such as `{{account.ownerId}}`). The test
 * is on the text and errs one way only: a trigger that merely mentions the
 * word (a comment "account top-up") still gets the context; one that can
 * reach it never goes without.
 *
 * A named email template is not part of the trigger: its text can change
 * while a run waits. A run whose owner context was not read carries
 * `ownerDeferred`, and its email reads the owner context as it renders, if
 * the template's text names it (`templateNamesOwner`).
 */
import type { TaskSpec } from '../../workflows/types';
import { filterReadsOwner } from '../triggers/matcher';

/** The two names, as a key, a path segment or a `$` operand. */
const OWNER_NAME = /\b(?:customer|account)\b/;

/**
 * In any string of a task, scripts included: the names, and what reaches a
 * script's parameters without writing them (`arguments`, a direct `eval`,
 * an identifier spelled with a `\u` escape).
 */
const OWNER_ACCESS = /\b(?:customer|account|arguments|eval)\b|\\u/;

/** Task fields that name no context value: the kind, ids, and a template's name (its text is checked as the email renders). */
const NOT_CONTEXT = new Set(['type', 'id', 'inputTaskId', 'template', 'execution']);

function namesOwner(value: unknown): boolean {
  if (typeof value === 'string') return OWNER_ACCESS.test(value);
  if (Array.isArray(value)) return value.some(namesOwner);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, item]) => OWNER_NAME.test(key) || namesOwner(item));
  return false;
}

/** A filter's references to the whole document (`$$ROOT`, `$$CURRENT`), which reach the owner context unnamed. */
const WHOLE_DOCUMENT = /\$\$(?:ROOT|CURRENT)\b/;

/** True when a filter over the run context (`on.filter`, a task's `when`) may read the owner context: a path or operand naming it, or the whole document. Its literal values are data, not references. */
function filterNamesOwner(filter: Record<string, unknown> | undefined): boolean {
  return filter !== undefined && (filterReadsOwner(filter) || WHOLE_DOCUMENT.test(JSON.stringify(filter)));
}

/** True when a task's fields or code may read `customer` or `account` from the run context. */
export function taskNamesOwner(task: TaskSpec): boolean {
  return Object.entries(task).some(([key, value]) => {
    if (NOT_CONTEXT.has(key)) return false;
    if (key === 'when') return filterNamesOwner(value as Record<string, unknown> | undefined);
    return OWNER_NAME.test(key) || namesOwner(value);
  });
}

/**
 * Trigger fields that never read the run context: identity and text for
 * people, the wait, and `cancelOn` (its `correlate` path is read from the
 * event alone). `on` is judged by its filter's references (its literal
 * values are data); the task lists task by task.
 * Every other field (`throttle` and `singleton` keys, sweeps, and any field
 * added later) is judged by its text.
 */
const NOT_CONTEXT_TRIGGER = new Set(['id', 'version', 'createdAt', 'updatedAt', 'key', 'name', 'description', 'enabled', 'wait', 'cancelOn', 'on', 'tasks', 'onLateCancel']);

/** What a trigger is judged on: its filter, both task lists and its other fields. */
export interface OwnerReader {
  on: { filter?: Record<string, unknown> };
  tasks: readonly TaskSpec[];
  onLateCancel?: { tasks: readonly TaskSpec[] };
}

/** Answers per trigger object: ingestion asks for each event, and the routing cache hands out the same records for a lease. */
const answers = new WeakMap<OwnerReader, boolean>();

function judge(trigger: OwnerReader): boolean {
  if (filterNamesOwner(trigger.on.filter)) return true;
  if ([...trigger.tasks, ...(trigger.onLateCancel?.tasks ?? [])].some(taskNamesOwner)) return true;
  return Object.entries(trigger).some(([key, value]) => !NOT_CONTEXT_TRIGGER.has(key) && (OWNER_NAME.test(key) || namesOwner(value)));
}

/** True when the trigger's runs must carry the owner context from their event's arrival. */
export function triggerNamesOwner(trigger: OwnerReader): boolean {
  let names = answers.get(trigger);
  if (names === undefined) {
    names = judge(trigger);
    answers.set(trigger, names);
  }
  return names;
}

/**
 * In a handlebars expression (`{{...}}`): the names, and what walks the
 * whole context without naming them (`this` at the top, `@root`, `..`,
 * `lookup`).
 */
const TEMPLATE_OWNER_ACCESS = /\b(?:customer|account|this|lookup)\b|@root|\.\./;
const EXPRESSION = /\{\{[^}]*\}\}/g;

/** True when a template's parts may read `customer` or `account`. */
export function templateNamesOwner(parts: { subject: string; text: string; html?: string }): boolean {
  return [parts.subject, parts.text, parts.html ?? ''].some((part) => (part.match(EXPRESSION) ?? []).some((expression) => TEMPLATE_OWNER_ACCESS.test(expression)));
}
