import { ApplicationFailure } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import { DomainError } from '../engine/errors';
import { groupInsert } from '../engine/group-insert';
import { driverCollection, isDuplicateKeyError } from '../engine/store';
import type { Mailer } from '../engine/mail/mailer';
import { messageIdFor, outboxModel } from '../engine/mail/outbox';
import { renderEmail, type EmailSources } from '../engine/mail/render';
import type { TemplateCatalog } from '../engine/mail/templates';
import { assertOneRecipient, emailSources, type EmailRequest } from '../tasks/email';
import { TaskInputError } from '../workflows/task-inputs';

/** One email per outbox key (workflow id + task id), whatever the retries. */
export type SendEmailRequest = EmailRequest;

export interface SendEmailResult {
  messageId: string;
  to: string;
  subject: string;
  alreadySent: boolean;
}

async function sources(request: SendEmailRequest, templates: TemplateCatalog): Promise<EmailSources> {
  try {
    return await emailSources(request, templates);
  } catch (error) {
    if (error instanceof TaskInputError) throw ApplicationFailure.nonRetryable(error.message, error.code);
    throw error;
  }
}

function render(content: EmailSources, variables: Record<string, unknown>) {
  try {
    return renderEmail(content, variables);
  } catch (error) {
    if (error instanceof DomainError) throw ApplicationFailure.nonRetryable(error.message, error.code);
    throw error;
  }
}

/** SMTP 5xx answers are permanent: retrying would only repeat the refusal. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: number }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/**
 * Renders and sends one email at most once per outbox key: a retried
 * activity finds the outbox record and sends nothing. The one window left,
 * a crash after the server accepted the message and before the record was
 * written, resends it with the same Message-ID.
 */
export function createSendEmailTask(deps: { connection: Connection; mailer: Mailer; templates: TemplateCatalog; clock?: () => Date }) {
  const outbox = driverCollection(outboxModel(deps.connection));
  const now = deps.clock ?? (() => new Date());
  return async function sendEmailTask(request: SendEmailRequest): Promise<SendEmailResult> {
    try {
      // Runs started by the previous release resolved `to` without this check.
      assertOneRecipient(request.to);
    } catch (error) {
      if (error instanceof TaskInputError) throw ApplicationFailure.nonRetryable(error.message, error.code);
      throw error;
    }
    const sent = await outbox.findOne({ _id: request.outboxKey });
    if (sent) return { messageId: sent.messageId, to: sent.to, subject: sent.subject, alreadySent: true };
    const email = render(await sources(request, deps.templates), request.variables);
    const messageId = messageIdFor(request.outboxKey);
    try {
      await deps.mailer.send({ ...email, to: request.to, messageId, headers: { 'X-Creditflow-Outbox-Key': request.outboxKey } });
    } catch (error) {
      if (isPermanent(error)) throw ApplicationFailure.nonRetryable(`the mail server refused the message: ${(error as Error).message}`, 'smtp_rejected');
      throw error;
    }
    try {
      await groupInsert(outbox).insert({ _id: request.outboxKey, messageId, to: request.to, subject: email.subject, sentAt: now() });
    } catch (error) {
      // Another attempt of this activity recorded the same message first.
      if (!isDuplicateKeyError(error)) throw error;
    }
    return { messageId, to: request.to, subject: email.subject, alreadySent: false };
  };
}
