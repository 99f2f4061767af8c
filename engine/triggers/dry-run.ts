import { isDomainError } from '../errors';
import type { Ledger, PolicyDefaults } from '../ledger';
import { effectivePolicy, type BalanceState } from '../ledger/policy';
import type { TemplateCatalog } from '../mail/templates';
import type { CancelIndex } from '../events/cancel-index';
import type { OwnerContextLoader } from '../customers/run-context';
import type { Sandbox } from '../../scripts-sandbox';
import { kindOf } from '../../tasks/registry';
import { ScriptFailure } from '../../tasks/task-errors';
import type { Projection, SimulationDependencies } from '../../tasks/task-kind';
import { initialContext, interpretTasks, type TaskExecutor } from '../../workflows/run-control';
import { TaskInputError } from '../../workflows/task-inputs';
import { creditsPackage } from '../../tasks/account';
import type { EventEnvelope, PackageSelection, TaskError, TaskState } from '../../workflows/types';
import { FilterCache, filterReadsOwner, matchSubject, matchTriggers, type FilterError } from './matcher';
import type { TriggerRecord } from './trigger-store';

export interface DryRunTask {
  id: string;
  type: string;
  /** What the task would do: run, be skipped (`when`, amount 0, an earlier failure), or fail (and stop the run unless `onError` is `continue`). */
  outcome: 'would_complete' | 'would_skip' | 'would_fail';
  output?: unknown;
  error?: TaskError;
  reason?: string;
  /** Kind-specific detail: `posting` (account), `email`, `transfer`, `webhook`, ... */
  [detail: string]: unknown;
  logs?: string[];
}

export interface DryRunMatch {
  triggerId: string;
  triggerKey?: string;
  triggerVersion: number;
  name: string;
  waitSeconds: number;
  tasks: DryRunTask[];
}

export interface DryRunResult {
  event: EventEnvelope;
  matched: DryRunMatch[];
  notMatched: Array<{ triggerId: string; triggerKey?: string; name: string; reason: string }>;
  /** Waiting runs this event would cancel. */
  wouldCancel: string[];
}

export interface DryRunDependencies {
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'getAccount' | 'policyOf'>;
  policyDefaults: PolicyDefaults;
  templates: TemplateCatalog;
  cancelIndex: Pick<CancelIndex, 'waitersFor'>;
  clock?: () => Date;
  /** The same owner context a real run of the event gets (`customer`, `account`). */
  ownerContext?: OwnerContextLoader;
  /** The package a real run of the event would credit (`amountFrom: "package"`), chosen the way ingestion chooses it. */
  selectPackage?: (event: EventEnvelope) => Promise<PackageSelection>;
}

function keyOf(trigger: TriggerRecord): { triggerKey?: string } {
  return trigger.key ? { triggerKey: trigger.key } : {};
}

/** Balances per account across the tasks of one simulated run, read from the ledger once each. */
function projectionFor(deps: DryRunDependencies): Projection {
  const accounts = new Map<string, { state: BalanceState; exists: boolean; policy: ReturnType<typeof effectivePolicy> }>();
  const keyOf = (ownerId: string, unit: string) => `${ownerId}\u0000${unit}`;
  return {
    async account(ownerId, unit) {
      const known = accounts.get(keyOf(ownerId, unit));
      if (known) return known;
      const account = await deps.ledger.getAccount(ownerId, unit);
      // An account not opened yet gets its group's layer too, as its first posting would.
      const policy = account?.policy ?? (await deps.ledger.policyOf(ownerId, unit)).policy;
      const found = { state: { balance: account?.balance ?? 0, negativeSince: account?.negativeSince ?? null }, exists: Boolean(account), policy };
      accounts.set(keyOf(ownerId, unit), found);
      return found;
    },
    apply(ownerId, unit, state) {
      const known = accounts.get(keyOf(ownerId, unit))!;
      accounts.set(keyOf(ownerId, unit), { ...known, state, exists: true });
    },
  };
}

/** A simulated failure as the dry run reports it: the same codes a real run would fail with. */
function readError(error: unknown): TaskError {
  if (error instanceof ScriptFailure) return { ...error.error };
  if (error instanceof TaskInputError || isDomainError(error)) return { code: error.code, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return { code, message: (error as Error).message };
  throw error;
}

/** A filter error as the dry run states it: `on.filter failed: ...` or `match_budget_exceeded: ...`. */
function reasonFor(error: FilterError): string {
  return error.code === 'filter_failed' ? `on.filter failed: ${error.message}` : `match_budget_exceeded: ${error.message}`;
}

/**
 * Answers "what would this event do?" without posting, sending or starting
 * anything: which triggers match, and for each what every task would do.
 * It runs the workflow's own interpreter (workflows/run-control.ts: `when`,
 * `forEach`, `onError`) over each task kind's simulation, which starts from
 * the same `prepare` as the real activity, so the two cannot disagree.
 */
export function createDryRun(deps: DryRunDependencies) {
  const filters = new FilterCache();
  const now = deps.clock ?? (() => new Date());

  async function simulate(trigger: TriggerRecord, event: EventEnvelope): Promise<DryRunMatch> {
    const simulation: SimulationDependencies = { sandbox: deps.sandbox, ledger: deps.ledger, policyDefaults: deps.policyDefaults, templates: deps.templates, projection: projectionFor(deps), clock: now };
    const details = new Map<string, Record<string, unknown>>();
    const execute: TaskExecutor = async (task, context, effectKey) => {
      const kind = kindOf(task.type);
      if (!kind) throw new TaskInputError('task_kind_unknown', `no task module handles type "${task.type}"`);
      try {
        const prepared = kind.prepare(task, context, { key: effectKey, workflowId: `dry-run:${trigger.id}:${event.id}` });
        const result = await kind.simulate(prepared, simulation, task, context);
        details.set(task.id, { ...details.get(task.id), ...result.preview, ...(result.logs ? { logs: result.logs } : {}) });
        return { output: result.output, ...(result.skipReason !== undefined ? { skipReason: result.skipReason } : {}) };
      } catch (error) {
        if (error instanceof ScriptFailure) details.set(task.id, { ...details.get(task.id), logs: error.logs });
        throw error;
      }
    };
    const states: TaskState[] = trigger.tasks.map((task) => ({ id: task.id, type: task.type, status: 'pending' }));
    const owner = deps.ownerContext ? await deps.ownerContext(event) : {};
    const selectedPackage = deps.selectPackage && creditsPackage(trigger.tasks) ? await deps.selectPackage(event) : undefined;
    await interpretTasks({ tasks: trigger.tasks, context: initialContext(trigger, event, undefined, owner.account, owner.customer, selectedPackage), effectKeyBase: `dry-run:${trigger.id}:${event.id}`, states }, execute, readError);
    const tasks = states.map((state): DryRunTask => ({
      id: state.id,
      type: state.type,
      outcome: state.status === 'completed' ? 'would_complete' : state.status === 'failed' ? 'would_fail' : 'would_skip',
      ...(state.output !== undefined ? { output: state.output } : {}),
      ...(state.error ? { error: state.error } : {}),
      ...(state.skipReason !== undefined ? { reason: state.skipReason } : {}),
      ...details.get(state.id),
    }));
    return { triggerId: trigger.id, ...keyOf(trigger), triggerVersion: trigger.version, name: trigger.name, waitSeconds: trigger.wait.seconds, tasks };
  }

  return {
    async run(event: EventEnvelope, candidates: TriggerRecord[]): Promise<DryRunResult> {
      const matched: DryRunMatch[] = [];
      const notMatched: DryRunResult['notMatched'] = [];
      // The same matching as ingestion (matcher.ts): a throwing filter, or the budget spent, is no match for that trigger alone.
      const listening = candidates.filter((trigger) => trigger.enabled && trigger.on.types.includes(event.type));
      // A filter over `customer` or `account` sees the owner's, as ingestion's does.
      const owner = deps.ownerContext && listening.some((trigger) => filterReadsOwner(trigger.on.filter)) ? await deps.ownerContext(event) : {};
      const filtered = matchTriggers(listening, matchSubject(event, owner), filters);
      const passed = new Set(filtered.matched.map((trigger) => trigger.id));
      const errors = new Map(filtered.errors.map((error) => [error.triggerId, error]));
      for (const trigger of candidates) {
        const named = { triggerId: trigger.id, ...keyOf(trigger), name: trigger.name };
        const error = errors.get(trigger.id);
        if (!trigger.enabled) notMatched.push({ ...named, reason: 'the trigger is disabled' });
        else if (!trigger.on.types.includes(event.type)) notMatched.push({ ...named, reason: `it listens to ${trigger.on.types.join(', ')}, not ${event.type}` });
        else if (error) notMatched.push({ ...named, reason: reasonFor(error) });
        else if (!passed.has(trigger.id)) notMatched.push({ ...named, reason: 'the event does not pass on.filter' });
        else matched.push(await simulate(trigger, event));
      }
      return { event, matched, notMatched, wouldCancel: await deps.cancelIndex.waitersFor(event) };
    },
  };
}

export type DryRun = ReturnType<typeof createDryRun>;
