import { ApplicationFailure } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import { DomainError } from '../engine/errors';
import { upsertRacing } from '../engine/store';
import type { Mailer } from '../engine/mail/mailer';
import { messageIdFor, outboxModel } from '../engine/mail/outbox';
import { renderEmail, type EmailSources } from '../engine/mail/render';
import type { TemplateCatalog } from '../engine/mail/templates';

export interface SendEmailRequest {
  /** workflow id + task id: one email per key, whatever the retries. */
  outboxKey: string;
  to: string;
  template?: string;
  subject?: string;
  text?: string;
  html?: string;
  variables: Record<string, unknown>;
}

export interface SendEmailResult {
  messageId: string;
  to: string;
  subject: string;
  alreadySent: boolean;
}

async function sources(request: SendEmailRequest, templates: TemplateCatalog): Promise<EmailSources> {
  if (!request.template) {
    return { subject: request.subject ?? '', text: request.text ?? '', ...(request.html ? { html: request.html } : {}) };
  }
  const found = await templates.get(request.template);
  if (!found) throw ApplicationFailure.nonRetryable(`email template "${request.template}" does not exist`, 'template_not_found');
  return { subject: request.subject ?? found.subject, text: request.text ?? found.text, ...((request.html ?? found.html) ? { html: request.html ?? found.html } : {}) };
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
 * activity finds the outbox record marked sent and sends nothing.
 */
export function createSendEmailTask(deps: { connection: Connection; mailer: Mailer; templates: TemplateCatalog; clock?: () => Date }) {
  const outbox = outboxModel(deps.connection);
  const now = deps.clock ?? (() => new Date());
  return async function sendEmailTask(request: SendEmailRequest): Promise<SendEmailResult> {
    const email = render(await sources(request, deps.templates), request.variables);
    const messageId = messageIdFor(request.outboxKey);
    // One write claims the record (or finds it): a retry of an attempt that
    // already sent returns what was sent instead of sending again.
    const record = await upsertRacing(() => outbox.findOneAndUpdate(
      { _id: request.outboxKey },
      { $setOnInsert: { status: 'sending', messageId, to: request.to, subject: email.subject, createdAt: now() }, $inc: { attempts: 1 } },
      { upsert: true, returnDocument: 'after' },
    ).lean());
    if (record?.status === 'sent') return { messageId: record.messageId, to: record.to, subject: record.subject, alreadySent: true };
    try {
      await deps.mailer.send({ ...email, to: request.to, messageId, headers: { 'X-Creditflow-Outbox-Key': request.outboxKey } });
    } catch (error) {
      if (isPermanent(error)) throw ApplicationFailure.nonRetryable(`the mail server refused the message: ${(error as Error).message}`, 'smtp_rejected');
      throw error;
    }
    await outbox.updateOne({ _id: request.outboxKey }, { $set: { status: 'sent', sentAt: now() } });
    return { messageId, to: request.to, subject: email.subject, alreadySent: false };
  };
}
