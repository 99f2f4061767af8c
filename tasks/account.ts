import { z } from '../engine/zod';
import type { FieldProblem } from '../engine/errors';
import type { Direction, EntrySource, PostRequest } from '../engine/ledger';
import { MAX_AMOUNT, MAX_COMMENT_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, UNIT_PATTERN } from '../engine/ledger/limits';
import { applyPosting } from '../engine/ledger/policy';
import { isMalformedReference, valueAtPath } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { PackageSelection, RunContext, TaskSpec } from '../workflows/types';
import { contextPath, ownerReference, unitSchema } from './fields';
import type { EffectIdentity, TaskKind } from './task-kind';
import { ledgerKeyOf } from './ledger-key';

export type AccountTask = TaskSpec & {
  action: 'credit' | 'debit' | 'auto';
  amount?: number;
  amountFrom?: string;
  inputTaskId?: string;
  owner: string;
  unit?: string;
  unitFrom?: string;
  createIfMissing: boolean;
  comment?: string;
};

export interface PreparedPosting {
  request: PostRequest;
  /** The package whose credits the posting is, for `amountFrom: "package"`. */
  package?: { id: string; version: number };
}

/** A task that posts nothing, and why (an amount of 0, no package matching the event). */
interface NothingToPost {
  skipReason: string;
}

/**
 * `amountFrom: "package"`: the amount and unit are the credits of the one
 * active package the event matched, snapshotted when it was ingested
 * (engine/packages; the run input's `package`).
 */
export const AMOUNT_FROM_PACKAGE = 'package';

/** True when a task chain credits a package, so ingestion must choose one for the run. */
export function creditsPackage(tasks: readonly TaskSpec[]): boolean {
  return tasks.some((task) => task.type === 'account' && (task as Partial<AccountTask>).amountFrom === AMOUNT_FROM_PACKAGE);
}

/**
 * The package a run credits: one matched (its credits), none (the task is
 * skipped), or several (`package_ambiguous`: the task fails, crediting
 * nothing).
 */
function packageCredits(selection: PackageSelection | undefined): { amount: number; unit: string; package: { id: string; version: number } } | NothingToPost {
  if (!selection) throw new TaskInputError('package_missing', 'amountFrom "package": the run carries no package choice (it was started without one)');
  if (selection.status === 'none') return { skipReason: 'no active package matches the event' };
  if (selection.status === 'ambiguous') {
    const names = selection.candidates.map((candidate) => `${candidate.id} (version ${candidate.version})`).join(', ');
    throw new TaskInputError('package_ambiguous', `the event matches ${selection.candidates.length} active packages: ${names}; a package event must match exactly one`);
  }
  return { amount: selection.credits.amount, unit: selection.credits.unit, package: { id: selection.id, version: selection.version } };
}

/** What an account task outputs: the entry it posted (or replayed). */
export interface PostingOutput {
  entryId: string;
  seq: number;
  ownerId: string;
  unit: string;
  direction: Direction;
  amount: number;
  balanceAfter: number;
  /** When the ledger committed the entry (ISO 8601); the same on a replay. */
  postedAt: string;
  replayed: boolean;
}

/**
 * The amount in minor units and, for `action: "auto"`, the direction its
 * sign picks. The amount is the literal, the value at `amountFrom`, or the
 * input task's `amount_cents`; it must be an integer within the ledger's
 * bounds. Shared by account and transfer tasks.
 */
export function resolveAmount(task: { amount?: number; amountFrom?: string; inputTaskId?: string }, context: RunContext, allowNegative: boolean): number {
  const { value, from } = task.amount !== undefined
    ? { value: task.amount as unknown, from: 'amount' }
    : task.amountFrom !== undefined
      ? { value: valueAtPath(context, task.amountFrom), from: `"${task.amountFrom}"` }
      : { value: (context.tasks[task.inputTaskId!] as { amount_cents?: unknown } | undefined)?.amount_cents, from: `task "${task.inputTaskId}"'s amount_cents` };
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TaskInputError('amount_invalid', `${from} must be an integer in minor units; got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  if (value < 0 && !allowNegative) throw new TaskInputError('amount_invalid', `${from} must not be negative; got ${value} (use action "auto" to debit a negative amount)`);
  if (Math.abs(value) > MAX_AMOUNT) throw new TaskInputError('amount_invalid', `${from} is ${value}; one posting moves at most ${MAX_AMOUNT} minor units`);
  return value;
}

/** The unit: the literal, or the value at `unitFrom`, which must be an ISO 4217 code or CREDIT. */
export function resolveUnit(task: { unit?: string; unitFrom?: string }, context: RunContext): string {
  if (task.unitFrom === undefined) return task.unit!;
  const unit = valueAtPath(context, task.unitFrom);
  if (typeof unit !== 'string' || !UNIT_PATTERN.test(unit)) {
    throw new TaskInputError('unit_invalid', `unitFrom: "${task.unitFrom}" must hold an ISO 4217 code (e.g. USD) or CREDIT; got ${JSON.stringify(unit) ?? 'nothing'}`);
  }
  return unit;
}

/** Problems shared by account and transfer tasks: one amount source, references to earlier tasks, one unit source. */
export function amountAndUnitProblems(task: { amount?: number; amountFrom?: string; inputTaskId?: string; unit?: string; unitFrom?: string }, at: (field: string) => string, earlier: ReadonlySet<string>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const sources = [task.amount, task.amountFrom, task.inputTaskId].filter((source) => source !== undefined).length;
  if (sources !== 1) problems.push({ path: at('amount'), message: 'give exactly one of amount (an integer in minor units), amountFrom (a context path) or inputTaskId (a task returning amount_cents)' });
  if (task.inputTaskId !== undefined && !earlier.has(task.inputTaskId)) problems.push({ path: at('inputTaskId'), message: `must name an earlier task; "${task.inputTaskId}" is not one` });
  if (task.unit !== undefined && task.unitFrom !== undefined) problems.push({ path: at('unitFrom'), message: 'give unit or unitFrom, not both' });
  return problems;
}

/** The unit a task names, else the server's default unit. */
export function withDefaultUnit<T extends { unit?: string; unitFrom?: string }>(task: T, defaults: { defaultUnit: string }): T {
  return task.unit === undefined && task.unitFrom === undefined ? { ...task, unit: defaults.defaultUnit } : task;
}

/**
 * What a run's entry records as its source: the run, the task, the event,
 * and the run's chain depth, so the balance change the entry causes starts
 * runs one deeper (engine/events/balance-pump.ts). Shared by account and
 * transfer tasks.
 */
export function runSource(task: TaskSpec, context: RunContext, effect: EffectIdentity): EntrySource {
  return { kind: 'trigger', triggerId: context.trigger.id, workflowId: effect.workflowId, taskId: task.id, eventId: context.event.id, depth: context.run?.depth ?? 0 };
}

/** Ledger effects are idempotent by key, so retrying through a store outage or a crash is safe. */
export const LEDGER_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 };

/** The ledger's answer as the task's output. */
export function postingOutput(request: PostRequest, result: { entry: { id: string; seq: number; balanceAfter: number; createdAt: Date }; replayed: boolean }): PostingOutput {
  return {
    entryId: result.entry.id,
    seq: result.entry.seq,
    ownerId: request.ownerId,
    unit: request.unit,
    direction: request.direction,
    amount: request.amount,
    balanceAfter: result.entry.balanceAfter,
    postedAt: new Date(result.entry.createdAt).toISOString(),
    replayed: result.replayed,
  };
}

/**
 * `account`: credits or debits the owner's account through the ledger,
 * exactly once per effect key (`<workflowId>:<taskId>`). Refusals
 * (`insufficient_funds`, `negative_too_long`, `account_not_found`) are final
 * failures carrying the ledger's code; contention and a busy store are
 * retried with backoff.
 */
export const accountKind: TaskKind<AccountTask, PreparedPosting | NothingToPost> = {
  type: 'account',
  // The comment goes on the entry as written (prepare).
  contextFields: { literal: ['comment'] },
  fields: z.object({
    action: z.enum(['credit', 'debit', 'auto']),
    amount: z.number().int().min(0).max(MAX_AMOUNT).optional(),
    amountFrom: contextPath.optional(),
    inputTaskId: z.string().optional(),
    owner: ownerReference.default('{{reservation.user.id}}'),
    unit: unitSchema.optional(),
    unitFrom: contextPath.optional(),
    createIfMissing: z.boolean().default(false),
    comment: z.string().max(MAX_COMMENT_LENGTH).optional(),
  }),
  validate(task, { at, earlier }) {
    const problems = amountAndUnitProblems(task, at, earlier);
    if (task.amountFrom === AMOUNT_FROM_PACKAGE) {
      if (task.action !== 'credit') problems.push({ path: at('action'), message: 'amountFrom "package" credits the package\'s credits: the action must be credit' });
      if (task.unit !== undefined || task.unitFrom !== undefined) problems.push({ path: at(task.unit !== undefined ? 'unit' : 'unitFrom'), message: 'amountFrom "package" credits the package\'s own unit: leave unit and unitFrom out' });
    }
    if (task.action === 'auto' && task.amount !== undefined) problems.push({ path: at('action'), message: 'auto takes its sign from amountFrom or inputTaskId; a literal amount has none' });
    if (isMalformedReference(task.owner)) problems.push({ path: at('owner'), message: 'must be a literal or one whole {{path}} reference' });
    return problems;
  },
  normalize: (task, defaults) => (task.amountFrom === AMOUNT_FROM_PACKAGE ? task : withDefaultUnit(task, defaults)),
  // A posting takes milliseconds, so it runs as a local activity: in the
  // worker that runs the workflow, recorded as a marker in the run's history,
  // with no round trip through the server's activity queue. A worker that dies
  // after posting but before the marker is recorded leaves the workflow task
  // to time out; the next worker runs the posting again under the same key and
  // the ledger answers with the entry it already holds. The timeout bounds how
  // long one attempt may hold the run.
  execution: {
    mode: 'activity',
    local: true,
    startToCloseTimeout: '10 seconds',
    retry: LEDGER_RETRY,
  },
  summary: (task) => task.amountFrom === AMOUNT_FROM_PACKAGE ? `credit the matched package's credits to ${task.owner}` : `${task.action === 'auto' ? 'post' : task.action} ${amountReference(task)} ${task.unitFrom ? `{{${task.unitFrom}}}` : task.unit} ${task.action === 'debit' ? 'from' : 'to'} ${task.owner}`,
  prepare(task, context, effect) {
    const fromPackage = task.amountFrom === AMOUNT_FROM_PACKAGE ? packageCredits(context.package) : undefined;
    if (fromPackage && 'skipReason' in fromPackage) return fromPackage;
    const signed = fromPackage ? fromPackage.amount : resolveAmount(task, context, task.action === 'auto');
    if (signed === 0) return { skipReason: 'the amount is 0' };
    const direction: Direction = task.action === 'auto' ? (signed > 0 ? 'credit' : 'debit') : task.action;
    const request: PostRequest = {
      ownerId: resolveField(task.owner, context as unknown as Record<string, unknown>, 'owner'),
      unit: fromPackage ? fromPackage.unit : resolveUnit(task, context),
      direction,
      amount: Math.abs(signed),
      idempotencyKey: ledgerKeyOf(effect.key, MAX_IDEMPOTENCY_KEY_LENGTH),
      createIfMissing: task.createIfMissing,
      ...(task.comment !== undefined ? { comment: task.comment } : {}),
      source: runSource(task, context, effect),
    };
    return { request, ...(fromPackage ? { package: fromPackage.package } : {}) };
  },
  async execute(prepared, deps) {
    if ('skipReason' in prepared) return { output: { amount: 0 }, skipReason: prepared.skipReason };
    const output = postingOutput(prepared.request, await deps.ledger.post(prepared.request));
    return { output: prepared.package ? { ...output, package: prepared.package } : output };
  },
  async simulate(prepared, deps) {
    if ('skipReason' in prepared) return { output: { amount: 0 }, skipReason: prepared.skipReason };
    const { request } = prepared;
    const account = await deps.projection.account(request.ownerId, request.unit);
    if (!account.exists && !request.createIfMissing) throw new TaskInputError('account_not_found', `no ${request.unit} account for "${request.ownerId}", and the task does not create one`);
    const after = applyPosting(account.state, request.direction, request.amount, account.policy, deps.clock());
    deps.projection.apply(request.ownerId, request.unit, after);
    const posting = { ownerId: request.ownerId, unit: request.unit, direction: request.direction, amount: request.amount, accountExists: account.exists, balanceBefore: account.state.balance, balanceAfter: after.balance };
    return { output: { ownerId: request.ownerId, unit: request.unit, direction: request.direction, amount: request.amount, balanceAfter: after.balance, ...(prepared.package ? { package: prepared.package } : {}) }, preview: { posting } };
  },
};

/** The amount as the summary shows it: the literal, or a reference filled in when the task runs. */
function amountReference(task: AccountTask): string {
  if (task.amount !== undefined) return String(task.amount);
  if (task.amountFrom !== undefined) return `{{${task.amountFrom}}}`;
  return `{{tasks.${task.inputTaskId}.amount_cents}}`;
}
