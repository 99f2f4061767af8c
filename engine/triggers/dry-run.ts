import { isDomainError } from '../errors';
import type { Ledger, PolicyDefaults } from '../ledger';
import { applyPosting, effectivePolicy, type BalanceState } from '../ledger/policy';
import { renderEmail } from '../mail/render';
import type { TemplateCatalog } from '../mail/templates';
import type { CancelIndex } from '../events/cancel-index';
import type { Sandbox } from '../../scripts-sandbox';
import { accountAmount, emailVariables, resolveField, runScope, scriptInput, TaskInputError } from '../../workflows/task-inputs';
import type { AccountTaskSpec, EmailTaskSpec, EventEnvelope, TaskSpec } from '../../workflows/types';
import { FilterCache } from './matcher';
import { snapshotOf, type TriggerRecord } from './trigger-store';

export interface DryRunTask {
  id: string;
  type: TaskSpec['type'];
  /** What the task would do: run, be skipped (amount 0, an earlier failure), or fail and stop the run. */
  outcome: 'would_complete' | 'would_skip' | 'would_fail';
  output?: unknown;
  error?: { code: string; message: string; line?: number; column?: number };
  reason?: string;
  posting?: { ownerId: string; unit: string; direction: 'credit' | 'debit'; amount: number; accountExists: boolean; balanceBefore: number; balanceAfter: number };
  email?: { to: string; subject: string; text: string; html?: string };
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
  ledger: Pick<Ledger, 'getAccount'>;
  policyDefaults: PolicyDefaults;
  templates: TemplateCatalog;
  cancelIndex: Pick<CancelIndex, 'waitersFor'>;
  clock?: () => Date;
}

function keyOf(trigger: TriggerRecord): { triggerKey?: string } {
  return trigger.key ? { triggerKey: trigger.key } : {};
}

/** Projected balances per account across the tasks of one simulated run. */
type Projection = Map<string, { state: BalanceState; exists: boolean }>;

/**
 * Answers "what would this event do?" without posting, sending or starting
 * anything: which triggers match, and for each what every task would do,
 * with the real sandbox, the real balances and policies, and real rendering.
 */
export function createDryRun(deps: DryRunDependencies) {
  const filters = new FilterCache();
  const now = deps.clock ?? (() => new Date());

  async function project(task: AccountTaskSpec, event: EventEnvelope, outputs: Record<string, unknown>, projection: Projection): Promise<DryRunTask> {
    const amount = accountAmount(task, outputs);
    if (amount === 0) return { id: task.id, type: task.type, outcome: 'would_skip', reason: 'the amount is 0' };
    const ownerId = resolveField(task.owner, runScope(event, outputs), 'owner');
    const key = `${ownerId}\u0000${task.unit}`;
    let current = projection.get(key);
    const account = current ? undefined : await deps.ledger.getAccount(ownerId, task.unit);
    current ??= { state: { balance: account?.balance ?? 0, negativeSince: account?.negativeSince ?? null }, exists: Boolean(account) };
    if (!current.exists && !task.createIfMissing) throw new TaskInputError('account_not_found', `no ${task.unit} account for "${ownerId}", and the task does not create one`);
    const policy = account?.policy ?? effectivePolicy(task.unit, { minBalance: null, maxNegativeDays: null }, deps.policyDefaults);
    const after = applyPosting(current.state, task.action, amount, policy, now());
    projection.set(key, { state: after, exists: true });
    return {
      id: task.id, type: task.type, outcome: 'would_complete',
      posting: { ownerId, unit: task.unit, direction: task.action, amount, accountExists: current.exists, balanceBefore: current.state.balance, balanceAfter: after.balance },
    };
  }

  async function render(task: EmailTaskSpec, event: EventEnvelope, outputs: Record<string, unknown>): Promise<DryRunTask> {
    const to = resolveField(task.to, runScope(event, outputs), 'to');
    const template = task.template ? await deps.templates.get(task.template) : null;
    if (task.template && !template) throw new TaskInputError('template_not_found', `email template "${task.template}" does not exist`);
    const sources = { subject: task.subject ?? template?.subject ?? '', text: task.text ?? template?.text ?? '', ...((task.html ?? template?.html) ? { html: task.html ?? template?.html } : {}) };
    const email = renderEmail(sources, emailVariables(task, event, outputs));
    return { id: task.id, type: task.type, outcome: 'would_complete', email: { to, ...email } };
  }

  async function simulateTask(task: TaskSpec, trigger: TriggerRecord, event: EventEnvelope, outputs: Record<string, unknown>, projection: Projection): Promise<DryRunTask> {
    switch (task.type) {
      case 'script': {
        const limits = { ...(task.timeoutMs ? { timeoutMs: task.timeoutMs } : {}), ...(task.memoryMb ? { memoryMb: task.memoryMb } : {}) };
        const result = await deps.sandbox.run({ code: task.code, input: scriptInput(snapshotOf(trigger), event, outputs), limits });
        if (!result.ok) return { id: task.id, type: task.type, outcome: 'would_fail', error: result.error, logs: result.logs };
        outputs[task.id] = result.output;
        return { id: task.id, type: task.type, outcome: 'would_complete', output: result.output, logs: result.logs };
      }
      case 'account':
        return project(task, event, outputs, projection);
      case 'email':
        return render(task, event, outputs);
    }
  }

  async function simulate(trigger: TriggerRecord, event: EventEnvelope): Promise<DryRunMatch> {
    const outputs: Record<string, unknown> = {};
    const projection: Projection = new Map();
    const tasks: DryRunTask[] = [];
    for (const task of trigger.tasks) {
      const failed = tasks.find((t) => t.outcome === 'would_fail');
      if (failed) {
        tasks.push({ id: task.id, type: task.type, outcome: 'would_skip', reason: `task "${failed.id}" would fail` });
        continue;
      }
      try {
        tasks.push(await simulateTask(task, trigger, event, outputs, projection));
      } catch (error) {
        if (!(error instanceof TaskInputError) && !isDomainError(error)) throw error;
        tasks.push({ id: task.id, type: task.type, outcome: 'would_fail', error: { code: error.code, message: error.message } });
      }
    }
    return { triggerId: trigger.id, ...keyOf(trigger), triggerVersion: trigger.version, name: trigger.name, waitSeconds: trigger.wait.seconds, tasks };
  }

  return {
    async run(event: EventEnvelope, candidates: TriggerRecord[]): Promise<DryRunResult> {
      const matched: DryRunMatch[] = [];
      const notMatched: DryRunResult['notMatched'] = [];
      for (const trigger of candidates) {
        const named = { triggerId: trigger.id, ...keyOf(trigger), name: trigger.name };
        if (!trigger.enabled) notMatched.push({ ...named, reason: 'the trigger is disabled' });
        else if (!trigger.on.types.includes(event.type)) notMatched.push({ ...named, reason: `it listens to ${trigger.on.types.join(', ')}, not ${event.type}` });
        else if (!filters.matches(trigger.id, trigger.version, trigger.on.filter, event)) notMatched.push({ ...named, reason: 'the event does not pass on.filter' });
        else matched.push(await simulate(trigger, event));
      }
      return { event, matched, notMatched, wouldCancel: await deps.cancelIndex.waitersFor(event) };
    },
  };
}

export type DryRun = ReturnType<typeof createDryRun>;
