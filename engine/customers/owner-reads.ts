/**
 * Which runs need their owner context (run-context.ts: `customer` and
 * `account`) read when their event arrives. Reading it costs an event up to
 * three store reads (the profile, the account, and the account's first entry
 * when it has no document), so ingestion reads it only for a trigger that
 * names it somewhere: its filter, a task's fields (`when`, paths, `{{...}}`
 * references), a script's code, or another field of the trigger (a
 * `throttle` or `singleton` key such as `{{account.ownerId}}`). The test
 * is on the text and errs one way only: a field that merely mentions the
 * word (a webhook body "account top-up") still gets the context; one that
 * can reach it never goes without. Two kinds of field are read for what
 * they are, as their task kind declares them (TaskKind.contextFields): a
 * literal one (an entry's comment) never reads the context, and a
 * handlebars template (an email's subject and bodies) reads it only in its
 * `{{...}}` expressions, so "credited to your account" in an email's text
 * is no reference. A string that is one whole `{{path}}` reference reads
 * only what its path starts with: `{{data.customer.id}}` is the event's.
 *
 * A named email template is not part of the trigger: its text can change
 * while a run waits. A run whose owner context was not read carries
 * `ownerDeferred`, and its email reads the owner context as it renders, if
 * the template's text names it (`templateNamesOwner`).
 */
import Handlebars from 'handlebars';
import { LRUCache } from 'lru-cache';
import { kindOf } from '../../tasks/registry';
import { parseReference } from '../../workflows/references';
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

/** The first part of a path that reads the owner context: `{{customer.name}}`, `{{#with account}}`. */
const OWNER_HEAD = new Set(['customer', 'account']);

/**
 * A string that is one whole `{{path}}` reference reads only what its path
 * starts with (`{{data.customer.id}}` is the event's); any other is judged
 * by its text. A path with a `-` is judged by its text too: in a script,
 * `{{data.x-account.y}}` is a subtraction that reads `account`.
 */
function namesOwner(value: unknown): boolean {
  if (typeof value === 'string') {
    const path = parseReference(value);
    return path === undefined || path.includes('-') ? OWNER_ACCESS.test(value) : OWNER_HEAD.has(path.split('.')[0]!);
  }
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
  const fields = kindOf(task.type)?.contextFields;
  return Object.entries(task).some(([key, value]) => {
    if (NOT_CONTEXT.has(key) || (fields?.literal?.includes(key) === true && typeof value === 'string')) return false;
    if (key === 'when') return filterNamesOwner(value as Record<string, unknown> | undefined);
    if (fields?.templates?.includes(key) === true && typeof value === 'string') return expressionsNameOwner(value);
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
 * True when a handlebars path may read the owner context: it starts with
 * one of its names, or walks the whole context without naming them (`this`
 * alone, `../` out of a block, `@root` and the other data variables, and the
 * `lookup` helper, which takes its key as data).
 */
function pathReadsOwner(path: hbs.AST.PathExpression): boolean {
  return path.data || path.depth > 0 || path.parts.length === 0 || OWNER_HEAD.has(path.parts[0]!) || path.original === 'lookup';
}

/**
 * A string literal naming the owner context or `lookup`: where a helper's
 * name goes (`{{"customer"}}`, `{{#with ("account")}}`), handlebars reads
 * it as a path of one part. Anywhere else it is only a value, and counting
 * it costs nothing but a read.
 */
const LITERAL_OWNER_ACCESS = /\b(?:customer|account|lookup)\b/;

/** Walks a handlebars AST for a path that may read the owner context. */
function astReadsOwner(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(astReadsOwner);
  if (node === null || typeof node !== 'object') return false;
  const { type } = node as { type?: unknown };
  if (type === 'PathExpression') return pathReadsOwner(node as hbs.AST.PathExpression);
  if (type === 'StringLiteral') return LITERAL_OWNER_ACCESS.test((node as hbs.AST.StringLiteral).value);
  return Object.values(node).some(astReadsOwner);
}

/**
 * True when a handlebars template may read `customer` or `account`: judged
 * on handlebars' own parse of it, so only its expressions count, whatever
 * their strings hold. A template that does not parse counts (it never
 * renders, but it costs nothing to be safe).
 */
function expressionsNameOwner(template: string): boolean {
  if (!template.includes('{{')) return false;
  const known = templateAnswers.get(template);
  if (known !== undefined) return known;
  let names: boolean;
  try {
    names = astReadsOwner(Handlebars.parse(template));
  } catch {
    names = true;
  }
  templateAnswers.set(template, names);
  return names;
}

/**
 * Answers per template text: an email of a run without its owner context
 * asks for its template on every send, and a parse allocates about ten
 * times the template's size. Bounded by the characters it keeps.
 */
const templateAnswers = new LRUCache<string, boolean>({ maxSize: 4_000_000, sizeCalculation: (_answer, template) => Math.max(1, template.length) });

/** True when a template's parts may read `customer` or `account`. */
export function templateNamesOwner(parts: { subject: string; text: string; html?: string }): boolean {
  return [parts.subject, parts.text, parts.html ?? ''].some(expressionsNameOwner);
}
