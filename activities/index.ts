import type { Connection } from 'mongoose';
import type { Ledger } from '../engine/ledger';
import type { Mailer } from '../engine/mail/mailer';
import type { TemplateCatalog } from '../engine/mail/templates';
import type { Sandbox } from '../scripts-sandbox';
import { createPostAccountTask } from './account-task';
import { createSendEmailTask } from './email-task';
import { createRunScriptTask } from './script-task';

/** Everything the activities touch, passed in so tests can choose each one. */
export interface ActivityDependencies {
  connection: Connection;
  sandbox: Pick<Sandbox, 'run'>;
  ledger: Pick<Ledger, 'post'>;
  mailer: Mailer;
  templates: TemplateCatalog;
}

/** One activity per task type; the worker registers these. */
export function createActivities(deps: ActivityDependencies) {
  return {
    runScriptTask: createRunScriptTask(deps.sandbox),
    postAccountTask: createPostAccountTask(deps.ledger),
    sendEmailTask: createSendEmailTask(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
