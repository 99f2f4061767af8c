import type { FieldProblem } from '../errors';
import { DomainError } from '../errors';
import { checkTemplate } from '../mail/render';
import type { TemplateCatalog } from '../mail/templates';
import { isMalformedReference } from '../../workflows/references';
import type { TaskSpec, TriggerSnapshot } from '../../workflows/types';
import { filterProblem } from './matcher';
import type { TaskDefinition, TriggerDefinition } from './trigger-schema';

/** What validation needs from the rest of the engine. */
export interface TriggerCheckers {
  /** Null when the script compiles; otherwise the message with line and column in the admin's code. */
  checkScript(code: string): { message: string; line?: number; column?: number } | null;
  /** Problems with a script task's requested limits against the server maximums. */
  checkScriptLimits(limits: { timeoutMs?: number; memoryMb?: number }): Array<{ path: string; message: string }>;
  templates: TemplateCatalog;
  defaultUnit: string;
}

/** A definition that passed validation, with every default filled in. */
export type NormalizedTrigger = Omit<TriggerSnapshot, 'id' | 'version'> & {
  /** Stored beside the definition, not in its versions: see trigger-store.ts. */
  key?: string;
  description?: string;
  enabled: boolean;
  on: { types: string[]; filter?: Record<string, unknown> };
};

function taskProblems(task: TaskDefinition, index: number, earlier: Set<string>, checkers: TriggerCheckers): Promise<FieldProblem[]> | FieldProblem[] {
  const at = (field: string) => `tasks.${index}.${field}`;
  const problems: FieldProblem[] = [];
  if (earlier.has(task.id)) problems.push({ path: at('id'), message: `task id "${task.id}" is used by an earlier task` });
  if ('inputTaskId' in task && task.inputTaskId !== undefined && !earlier.has(task.inputTaskId)) {
    problems.push({ path: at('inputTaskId'), message: `must name an earlier task; "${task.inputTaskId}" is not one` });
  }
  if (task.type === 'script') {
    const syntax = checkers.checkScript(task.code);
    if (syntax) {
      const where = syntax.line !== undefined ? ` (line ${syntax.line}, column ${syntax.column ?? 0})` : '';
      problems.push({ path: at('code'), message: `${syntax.message}${where}` });
    }
    const limits = { ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}), ...(task.memoryMb !== undefined ? { memoryMb: task.memoryMb } : {}) };
    for (const problem of checkers.checkScriptLimits(limits)) problems.push({ path: at(problem.path), message: problem.message });
  }
  if (task.type === 'account' && isMalformedReference(task.owner)) problems.push({ path: at('owner'), message: 'must be a literal or one whole {{path}} reference' });
  if (task.type === 'email') return emailProblems(task, at, checkers).then((found) => [...problems, ...found]);
  return problems;
}

async function emailProblems(task: Extract<TaskDefinition, { type: 'email' }>, at: (field: string) => string, checkers: TriggerCheckers): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  if (isMalformedReference(task.to)) problems.push({ path: at('to'), message: 'must be a literal address or one whole {{path}} reference' });
  if (task.template !== undefined && !(await checkers.templates.get(task.template))) {
    problems.push({ path: at('template'), message: `no template named "${task.template}"` });
  }
  try {
    checkTemplate({ subject: task.subject ?? '', text: task.text ?? '', ...(task.html ? { html: task.html } : {}) });
  } catch (error) {
    for (const problem of (error as DomainError).errors ?? []) problems.push({ path: at(problem.path), message: problem.message });
  }
  return problems;
}

function normalizeTask(task: TaskDefinition, defaultUnit: string): TaskSpec {
  if (task.type === 'account') return { ...task, unit: task.unit ?? defaultUnit };
  return task;
}

/**
 * Checks what the schema cannot: task ids unique, inputTaskId names an
 * earlier task, scripts compile, templates exist, the filter compiles.
 * Throws one DomainError listing every problem by path; returns the
 * definition with defaults filled in.
 */
export async function validateTrigger(definition: TriggerDefinition, checkers: TriggerCheckers): Promise<NormalizedTrigger> {
  const problems: FieldProblem[] = [];
  const filterError = filterProblem(definition.on.filter);
  if (filterError) problems.push({ path: 'on.filter', message: filterError });
  const earlier = new Set<string>();
  for (const [index, task] of definition.tasks.entries()) {
    problems.push(...(await taskProblems(task, index, earlier, checkers)));
    earlier.add(task.id);
  }
  if (problems.length > 0) throw new DomainError('trigger_invalid', 'invalid', `The trigger has ${problems.length} problem(s).`, problems);
  return {
    ...(definition.key !== undefined ? { key: definition.key } : {}),
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    enabled: definition.enabled,
    on: definition.on,
    wait: definition.wait,
    ...(definition.cancelOn ? { cancelOn: definition.cancelOn } : {}),
    tasks: definition.tasks.map((task) => normalizeTask(task, checkers.defaultUnit)),
  };
}
