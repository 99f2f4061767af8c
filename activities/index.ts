import type { Connection } from 'mongoose';
import { createCancelIndex } from '../engine/events/cancel-index';
import { createEventWaits } from '../engine/events/event-waits';
import type { Ledger } from '../engine/ledger';
import type { Mailer } from '../engine/mail/mailer';
import { createRecordStore } from '../engine/records/record-store';
import { createPaymentRequests } from '../engine/payments/payment-requests';
import { customerModels } from '../engine/customers/models';
import { createRenewalSweep } from '../engine/subscriptions/renewal-sweep';
import { createSubscriptionStore } from '../engine/subscriptions/subscription-store';
import type { PaymentGateways } from '../engine/payments/gateway';
import { createFiringActivities, type FiringDependencies } from '../engine/schedules/fire';
import { createFiringStore } from '../engine/schedules/firing-store';
import type { TemplateCatalog } from '../engine/mail/templates';
import type { OwnerContextLoader } from '../engine/customers/run-context';
import type { Sandbox } from '../scripts-sandbox';
import { createPostAccountTask } from './account-task';
import { createSendEmailTask } from './email-task';
import { createRunScriptTask } from './script-task';
import { createTaskActivities } from '../tasks/activities';
import type { ExecutionDependencies } from '../tasks/task-kind';

/** Everything the activities touch, passed in so tests can choose each one. */
export interface ActivityDependencies {
  connection: Connection;
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'post' | 'transfer'>;
  mailer: Mailer;
  templates: TemplateCatalog;
  /**
   * Reads an event's owner context (engine/customers/run-context.ts) for an
   * email whose run went without it (TriggerRunInput.ownerDeferred) and whose
   * template names it. The worker passes the ingestion's own loader.
   */
  ownerContext?: OwnerContextLoader;
  /** The webhook sender and the triggers' signing secrets; without them a webhook task fails as unavailable. */
  webhooks?: ExecutionDependencies['webhooks'];
  webhookSecret?: ExecutionDependencies['webhookSecret'];
  /** What schedule firings need (the trigger store, the ledger's sweep, an ingestor); without it a firing fails as unavailable. */
  firings?: Omit<FiringDependencies, 'connection'>;
  /** The payment gateways payment_request tasks submit to (PAYMENT_GATEWAYS); without them such a task fails with gateway_unknown. */
  gateways?: PaymentGateways;
}

/**
 * What the worker registers: one activity per task kind (tasks/), the
 * three activities runs started by the previous release still call
 * (workflows/legacy-tasks.ts), and `tasksBegin`.
 */
export function createActivities(deps: ActivityDependencies) {
  const sendEmailTask = createSendEmailTask(deps);
  return {
    ...createTaskActivities({
      sandbox: deps.sandbox,
      ledger: deps.ledger,
      sendEmail: sendEmailTask,
      eventWaits: createEventWaits(deps.connection, createCancelIndex(deps.connection)),
      records: createRecordStore(deps.connection),
      paymentRequests: createPaymentRequests(deps.connection),
      renewDueSubscriptions: renewalSweep(deps, sendEmailTask),
      firingReports: createFiringStore(deps.connection),
      ...(deps.gateways ? { gateways: deps.gateways } : {}),
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
      ...(deps.webhookSecret ? { webhookSecret: deps.webhookSecret } : {}),
    }),
    runScriptTask: createRunScriptTask(deps.sandbox),
    postAccountTask: createPostAccountTask(deps.ledger),
    sendEmailTask,
    ...firingActivities(deps),
    /** Does nothing: its scheduling records in the run's history that its tasks began (TriggerRunInput.tasksBeginRecorded). */
    tasksBegin: async (): Promise<void> => undefined,
  };
}

/** The renewal sweep: subscriptions renewed through the worker's ledger, notices sent through its outbox. */
function renewalSweep(deps: ActivityDependencies, sendEmail: ExecutionDependencies['sendEmail']) {
  const { Customer } = customerModels(deps.connection);
  return createRenewalSweep({
    subscriptions: createSubscriptionStore({ connection: deps.connection, ledger: deps.ledger }),
    emailOf: async (ownerId) => (await Customer.findById(ownerId, { email: 1 }).lean<{ email: string | null }>())?.email ?? null,
    sendEmail,
  });
}

/** The firing activities; a worker built without their dependencies registers ones that fail, so a stray firing says why. */
function firingActivities(deps: ActivityDependencies) {
  if (deps.firings) return createFiringActivities({ connection: deps.connection, ...deps.firings });
  const unavailable = async (): Promise<never> => {
    throw new Error('this worker was built without schedule firings (ActivityDependencies.firings)');
  };
  return { fireTrigger: unavailable, recordFiringFailure: unavailable } as ReturnType<typeof createFiringActivities>;
}

export type Activities = ReturnType<typeof createActivities>;
