import { ApplicationFailure } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import { DomainError } from '../engine/errors';
import { groupInsert } from '../engine/group-insert';
import { driverCollection, isDuplicateKeyError } from '../engine/store';
import { isRefusal, type Mailer } from '../engine/mail/mailer';
import { messageIdFor, outboxModel } from '../engine/mail/outbox';
import { renderEmail, type EmailSources } from '../engine/mail/render';
import type { TemplateCatalog } from '../engine/mail/templates';
import { templateNamesOwner } from '../engine/customers/owner-reads';
import type { OwnerContextLoader } from '../engine/customers/run-context';
import type { AccountContext, EventEnvelope } from '../workflows/types';
import { assertOneRecipient, emailSources, type EmailRequest } from '../tasks/email';
import { inLocalActivity } from '../tasks/local-attempt';
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

/**
 * The template variables with the owner context of the run's event, read
 * now: the run went without it (nothing in its trigger names it) and the
 * template does. The run's own values come first, as the context's would.
 */
async function withOwner(variables: Record<string, unknown>, load: OwnerContextLoader): Promise<Record<string, unknown>> {
  const owner = await load(variables.event as EventEnvelope, variables.account as AccountContext | undefined);
  return { ...owner, ...variables };
}

/**
 * Renders and sends one email at most once per outbox key: a retried
 * activity finds the outbox record and sends nothing, and an attempt waits
 * for an earlier one still sending in this process (its local first attempt
 * timed out) before it looks. The window left, a crash after the server
 * accepted the message and before the record was written, or an earlier
 * attempt still sending in another worker, resends it with the same
 * Message-ID.
 */
export function createSendEmailTask(deps: { connection: Connection; mailer: Mailer; templates: TemplateCatalog; ownerContext?: OwnerContextLoader; clock?: () => Date }) {
  const outbox = driverCollection(outboxModel(deps.connection));
  const now = deps.clock ?? (() => new Date());
  /** Sends in flight in this process, by outbox key. */
  const sending = new Map<string, Promise<void>>();
  return async function sendEmailTask(request: SendEmailRequest): Promise<SendEmailResult> {
    try {
      // Runs started by the previous release resolved `to` without this check.
      assertOneRecipient(request.to);
    } catch (error) {
      if (error instanceof TaskInputError) throw ApplicationFailure.nonRetryable(error.message, error.code);
      throw error;
    }
    // An earlier attempt in this process that timed out may still be sending: its outcome decides.
    await sending.get(request.outboxKey)?.catch(() => undefined);
    const sent = await outbox.findOne({ _id: request.outboxKey });
    if (sent) return { messageId: sent.messageId, to: sent.to, subject: sent.subject, alreadySent: true };
    if (inLocalActivity() && deps.mailer.isFailing()) {
      throw ApplicationFailure.retryable('the mail server is failing; the email goes to the regular activity, which retries with backoff', 'smtp_unavailable');
    }
    const content = await sources(request, deps.templates);
    const variables = request.ownerDeferred && deps.ownerContext && templateNamesOwner(content) ? await withOwner(request.variables, deps.ownerContext) : request.variables;
    const email = render(content, variables);
    const messageId = messageIdFor(request.outboxKey);
    const send = deps.mailer.send({ ...email, to: request.to, messageId, headers: { 'X-Creditflow-Outbox-Key': request.outboxKey } });
    sending.set(request.outboxKey, send);
    try {
      await send;
    } catch (error) {
      if (isRefusal(error)) throw ApplicationFailure.nonRetryable(`the mail server refused the message: ${(error as Error).message}`, 'smtp_rejected');
      throw error;
    } finally {
      if (sending.get(request.outboxKey) === send) sending.delete(request.outboxKey);
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
