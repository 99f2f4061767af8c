/**
 * What one task kind (script, account, email, transfer, webhook,
 * wait_for_event, record, payment_request) owns, end to end: its schema, its save-time checks and
 * defaults, how the workflow runs it, the activity that executes it, and the
 * simulation the dry run uses. Execution and simulation start from the same
 * `prepare`, so a dry run and a real run resolve a task's inputs, and refuse
 * bad ones, identically. tasks/registry.ts lists the kinds; everything else
 * (the trigger schema union, OpenAPI enums, validation, the worker's
 * activities, the dry run) is derived from that list.
 */
import type { ZodType } from 'zod';
import type { FieldProblem } from '../engine/errors';
import type { Ledger, Policy, PolicyDefaults } from '../engine/ledger';
import type { BalanceState } from '../engine/ledger/policy';
import type { TemplateCatalog } from '../engine/mail/templates';
import type { Sandbox } from '../scripts-sandbox';
import type { WebhookSender } from '../engine/webhooks';
import type { EventWaits } from '../engine/events/event-waits';
import type { FiringStore } from '../engine/schedules/firing-store';
import type { RecordStore } from '../engine/records/record-store';
import type { PaymentGateways } from '../engine/payments/gateway';
import type { PaymentRequests } from '../engine/payments/payment-requests';
import type { EmailRequest } from './email';
import type { RenewDue } from '../engine/subscriptions/renewal-sweep';
import type { RetryPlan, RunContext, TaskExecution, TaskSpec } from '../workflows/types';

/** Who a task's effect belongs to: its idempotency key and the run. A dry run uses a key of its own. */
export interface EffectIdentity {
  /** `<workflowId>:<taskId>`, with `:<index>` inside a forEach. */
  key: string;
  workflowId: string;
}

/** Save-time checks that need the rest of the engine. */
export interface ValidationContext {
  /** Ids of the tasks before this one. */
  earlier: ReadonlySet<string>;
  /** `tasks.<index>.<field>` for this task. */
  at: (field: string) => string;
  checkScript(code: string): { message: string; line?: number; column?: number } | null;
  checkScriptLimits(limits: { timeoutMs?: number; memoryMb?: number }): Array<{ path: string; message: string }>;
  templates: TemplateCatalog;
  /** Hosts a webhook may call although they resolve to private addresses (WEBHOOK_ALLOWED_HOSTS). */
  webhookAllowedHosts: readonly string[];
  /** The payment gateways this process knows (PAYMENT_GATEWAYS); empty: none configured here, so names are checked at run time only. */
  paymentGateways?: readonly string[];
}

/** Server-level defaults a kind may fill in at save time. */
export interface NormalizeDefaults {
  defaultUnit: string;
}

/** What executing a task may use. Each kind takes only what it needs. */
export interface ExecutionDependencies {
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'post' | 'transfer'>;
  /** Sends one email at most once per outbox key (activities/email-task.ts). */
  sendEmail(request: EmailRequest): Promise<unknown>;
  /** Sends webhook requests through the address guard (engine/webhooks). */
  webhooks?: WebhookSender;
  /** The trigger's webhook signing secret, by trigger id; undefined when it has none. */
  webhookSecret?: (triggerId: string) => Promise<string | undefined>;
  /** Registers wait_for_event waits (engine/events/event-waits.ts). */
  eventWaits: Pick<EventWaits, 'register'>;
  /** Records of external objects (engine/records); without it a record task fails as unavailable. */
  records?: Pick<RecordStore, 'put'>;
  /** Payment requests and the gateways they are sent to (engine/payments); without them a payment_request task fails. */
  paymentRequests?: Pick<PaymentRequests, 'create' | 'finish'>;
  gateways?: PaymentGateways;
  /** The renewal sweep (engine/subscriptions/renewal-sweep.ts); without it a subscription_renewals task fails as unavailable. */
  renewDueSubscriptions?: RenewDue;
  /** Puts a subscription_renewals report on the firing whose run it is (engine/schedules/firing-store.ts); without it nothing is put. */
  firingReports?: Pick<FiringStore, 'recordReport'>;
}

/** Balances as a dry run projects them across the tasks of one simulated run. */
export interface Projection {
  /** The account's state after the postings simulated so far, read from the ledger the first time. */
  account(ownerId: string, unit: string): Promise<{ state: BalanceState; exists: boolean; policy: Policy }>;
  /** Records a simulated posting. */
  apply(ownerId: string, unit: string, state: BalanceState): void;
}

/** What simulating may use: reads only, never an effect. */
export interface SimulationDependencies {
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'getAccount'>;
  policyDefaults: PolicyDefaults;
  templates: TemplateCatalog;
  projection: Projection;
  clock: () => Date;
}

/** A simulated task: its outcome as the interpreter sees it, and what a person reading the dry run wants to see. */
export interface Simulation {
  output: unknown;
  skipReason?: string;
  /** Kind-specific detail for the dry run: the posting, the rendered email, the request a webhook would send. */
  preview?: Record<string, unknown>;
  logs?: string[];
}

/** How the workflow runs a kind: an activity (local or not) with its timeouts and retries, or a wait inside the workflow. */
export type ExecutionPlan =
  | { mode: 'activity'; local: boolean; localFirst?: { startToCloseTimeout: string; backoff?: true }; startToCloseTimeout: string; heartbeatTimeout?: string; retry: RetryPlan }
  | { mode: 'wait_for_event'; local: false; startToCloseTimeout: string; retry: RetryPlan };

export interface TaskKind<Task extends TaskSpec = TaskSpec, Prepared = unknown> {
  /** The `type` admins write, e.g. `account`. */
  readonly type: string;
  /** The kind's own fields (the control fields id, type, when, onError and forEach are added by the registry). */
  readonly fields: ZodType;
  /** Checks the schema cannot make (references to earlier tasks, scripts compile, templates exist, ...). */
  validate?(task: Task, context: ValidationContext): Promise<FieldProblem[]> | FieldProblem[];
  /** Fills server defaults into the stored definition (e.g. the unit). */
  normalize?(task: Task, defaults: NormalizeDefaults): Task;
  /** Template names the task uses, so a template in use cannot be deleted. */
  templatesUsed?(task: Task): string[];
  /** Event routes (type, path) the task needs in place when its run starts (wait_for_event). */
  eventRoutes?(task: Task): Array<{ types: string[]; path: string }>;
  /**
   * How the kind's string fields reach the run context, beyond being judged
   * by their whole text (engine/customers/owner-reads.ts): `literal` fields
   * are used as written, never resolved against it (a comment); `templates`
   * are handlebars templates, which read it only in their `{{...}}`
   * expressions. Declare a field here only while the kind's code uses it so.
   */
  readonly contextFields?: { readonly literal?: readonly string[]; readonly templates?: readonly string[] };
  readonly execution: ExecutionPlan;
  /** One line for the Temporal UI, with `{{path}}` parts filled from the run context. */
  summary(task: Task): string;
  /** Resolves the task's inputs from the run context; throws TaskInputError (a final failure) when they are unusable. */
  prepare(task: Task, context: RunContext, effect: EffectIdentity): Prepared;
  /** Carries the task out, at most once per effect key. Throws an ApplicationFailure-ready error on failure. */
  execute(prepared: Prepared, deps: ExecutionDependencies, task: Task, context: RunContext): Promise<{ output: unknown; skipReason?: string }>;
  /** What executing would do, with reads only. */
  simulate(prepared: Prepared, deps: SimulationDependencies, task: Task, context: RunContext): Promise<Simulation>;
}

/** The execution a run carries for a task of this kind. */
export function executionOf(kind: TaskKind, task: TaskSpec): TaskExecution {
  const summary = kind.summary(task);
  const activity = activityNameOf(kind.type);
  if (kind.execution.mode === 'wait_for_event') return { ...kind.execution, activity, summary, timeoutSeconds: Number(task.timeoutSeconds) };
  return { ...kind.execution, activity, summary };
}

/** The activity name the worker registers for a kind: `account` -> `accountTask`, `wait_for_event` -> `waitForEventTask`. */
export function activityNameOf(type: string): string {
  return `${type.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())}Task`;
}
