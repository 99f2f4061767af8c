import type { Connection } from 'mongoose';
import { createCancelIndex } from '../engine/events/cancel-index';
import { createEventWaits } from '../engine/events/event-waits';
import type { Ledger } from '../engine/ledger';
import type { Mailer } from '../engine/mail/mailer';
import type { TemplateCatalog } from '../engine/mail/templates';
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
  /** The webhook sender and the triggers' signing secrets; without them a webhook task fails as unavailable. */
  webhooks?: ExecutionDependencies['webhooks'];
  webhookSecret?: ExecutionDependencies['webhookSecret'];
}

/**
 * What the worker registers: one activity per task kind (tasks/), and the
 * three activities runs started by the previous release still call
 * (workflows/legacy-tasks.ts).
 */
export function createActivities(deps: ActivityDependencies) {
  const sendEmailTask = createSendEmailTask(deps);
  return {
    ...createTaskActivities({
      sandbox: deps.sandbox,
      ledger: deps.ledger,
      sendEmail: sendEmailTask,
      eventWaits: createEventWaits(deps.connection, createCancelIndex(deps.connection)),
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
      ...(deps.webhookSecret ? { webhookSecret: deps.webhookSecret } : {}),
    }),
    runScriptTask: createRunScriptTask(deps.sandbox),
    postAccountTask: createPostAccountTask(deps.ledger),
    sendEmailTask,
  };
}

export type Activities = ReturnType<typeof createActivities>;
