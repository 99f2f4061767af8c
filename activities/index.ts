import type { Connection } from 'mongoose';
import type { Ledger } from '../engine/ledger';
import type { Mailer } from '../engine/mail/mailer';
import type { TemplateCatalog } from '../engine/mail/templates';
import type { Sandbox } from '../scripts-sandbox';
import { createPostAccountTask } from './account-task';
import { createSendEmailTask } from './email-task';
import { createRunScriptTask } from './script-task';
import { createTaskActivities } from '../tasks/activities';

/** Everything the activities touch, passed in so tests can choose each one. */
export interface ActivityDependencies {
  connection: Connection;
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'post'>;
  mailer: Mailer;
  templates: TemplateCatalog;
}

/**
 * What the worker registers: one activity per task kind (tasks/), and the
 * three activities runs started by the previous release still call
 * (workflows/legacy-tasks.ts).
 */
export function createActivities(deps: ActivityDependencies) {
  const sendEmailTask = createSendEmailTask(deps);
  return {
    ...createTaskActivities({ sandbox: deps.sandbox, ledger: deps.ledger, sendEmail: sendEmailTask }),
    runScriptTask: createRunScriptTask(deps.sandbox),
    postAccountTask: createPostAccountTask(deps.ledger),
    sendEmailTask,
  };
}

export type Activities = ReturnType<typeof createActivities>;
