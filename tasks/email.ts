import type { FieldProblem } from '../engine/errors';
import { DomainError } from '../engine/errors';
import { checkTemplate, renderEmail, type EmailSources } from '../engine/mail/render';
import type { TemplateCatalog } from '../engine/mail/templates';
import { z } from '../engine/zod';
import { isMalformedReference } from '../workflows/references';
import { resolveField, TaskInputError } from '../workflows/task-inputs';
import type { EmailTaskSpec, RunContext, TaskSpec } from '../workflows/types';
import { ownerReference, templateNameSchema } from './fields';
import type { TaskKind } from './task-kind';

/** The email task's fields are the ones runs of the previous release carry (workflows/types.ts). */
type EmailTask = TaskSpec & Omit<EmailTaskSpec, 'id' | 'type'>;

/** What the email activity sends: one message per outbox key. */
export interface EmailRequest {
  outboxKey: string;
  to: string;
  template?: string;
  subject?: string;
  text?: string;
  html?: string;
  variables: Record<string, unknown>;
  /** The run's owner context was not read at ingestion: read it as the email renders if the template names it. */
  ownerDeferred?: boolean;
}

/**
 * One mailbox, as a recipient must be: no list, no display name, no header
 * breaks. An address from event data that is anything else fails the task
 * instead of mailing whoever the sender named.
 */
const SINGLE_ADDRESS = /^[^\s@,;:<>()[\]"\\]+@[^\s@,;:<>()[\]"\\]+\.[^\s@,;:<>()[\]"\\]+$/;
const MAX_ADDRESS_LENGTH = 254;

/** Throws recipient_invalid unless `to` is one address (no list, no display name, no header break). */
export function assertOneRecipient(to: string): void {
  if (to.length > MAX_ADDRESS_LENGTH || !SINGLE_ADDRESS.test(to)) throw new TaskInputError('recipient_invalid', `to: ${JSON.stringify(to.slice(0, 80))} is not one email address`);
}

/** Template variables: the run context, with the input task's `vars` at the top level (`{{DOLLARS}}`). */
function variablesOf(task: EmailTask, context: RunContext): Record<string, unknown> {
  const vars = task.inputTaskId === undefined ? undefined : (context.tasks[task.inputTaskId] as { vars?: unknown } | undefined)?.vars;
  const topLevel = vars !== null && typeof vars === 'object' && !Array.isArray(vars) ? (vars as Record<string, unknown>) : {};
  const { ownerDeferred: _deferred, ...variables } = context;
  return { ...variables, ...topLevel };
}

/** The subject and bodies: the task's own, else the template's. */
export async function emailSources(request: Pick<EmailRequest, 'template' | 'subject' | 'text' | 'html'>, templates: TemplateCatalog): Promise<EmailSources> {
  const found = request.template ? await templates.get(request.template) : null;
  if (request.template && !found) throw new TaskInputError('template_not_found', `email template "${request.template}" does not exist`);
  const html = request.html ?? found?.html;
  return { subject: request.subject ?? found?.subject ?? '', text: request.text ?? found?.text ?? '', ...(html ? { html } : {}) };
}

/**
 * `email`: renders a handlebars template (or inline subject and text) with
 * the run context and sends it through the outbox, at most once per effect
 * key; a retried activity finds the outbox record and sends nothing.
 */
export const emailKind: TaskKind<EmailTask, EmailRequest> = {
  type: 'email',
  // Rendered by handlebars with the run context (engine/mail/render.ts).
  contextFields: { templates: ['subject', 'text', 'html'] },
  fields: z.object({
    inputTaskId: z.string().optional(),
    to: ownerReference.default('{{reservation.user.email}}'),
    template: templateNameSchema.optional(),
    subject: z.string().min(1).max(998).optional(),
    text: z.string().min(1).max(100_000).optional(),
    html: z.string().min(1).max(200_000).optional(),
  }),
  async validate(task, { at, earlier, templates }) {
    const problems: FieldProblem[] = [];
    if (task.template === undefined && (task.subject === undefined || task.text === undefined)) problems.push({ path: at('template'), message: 'give a template, or an inline subject and text' });
    if (task.inputTaskId !== undefined && !earlier.has(task.inputTaskId)) problems.push({ path: at('inputTaskId'), message: `must name an earlier task; "${task.inputTaskId}" is not one` });
    if (isMalformedReference(task.to)) problems.push({ path: at('to'), message: 'must be a literal address or one whole {{path}} reference' });
    else if (!task.to.includes('{{') && !SINGLE_ADDRESS.test(task.to)) problems.push({ path: at('to'), message: 'must be one email address' });
    if (task.template !== undefined && !(await templates.get(task.template))) problems.push({ path: at('template'), message: `no template named "${task.template}"` });
    try {
      checkTemplate({ subject: task.subject ?? '', text: task.text ?? '', ...(task.html ? { html: task.html } : {}) });
    } catch (error) {
      for (const problem of (error as DomainError).errors ?? []) problems.push({ path: at(problem.path), message: problem.message });
    }
    return problems;
  },
  templatesUsed: (task) => (task.template ? [task.template] : []),
  // The first attempt runs in the worker as a local activity, sparing the run two trips through the
  // Temporal server; if the mail server fails it or is failing already (Mailer.isFailing), the
  // regular activity takes over with the backoff below, so a mail outage never holds the worker's
  // local-activity slots that scripts and postings need.
  execution: {
    mode: 'activity',
    local: false,
    localFirst: { startToCloseTimeout: '15 seconds', backoff: true },
    startToCloseTimeout: '1 minute',
    // Mail goes through the outbox, so a retry never sends twice.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 30 },
  },
  summary: (task) => `email ${task.to}${task.template ? ` (${task.template})` : ''}`,
  prepare(task, context, effect) {
    const to = resolveField(task.to, context as unknown as Record<string, unknown>, 'to');
    assertOneRecipient(to);
    const { template, subject, text, html } = task;
    return {
      outboxKey: effect.key,
      to,
      ...(template ? { template } : {}),
      ...(subject ? { subject } : {}),
      ...(text ? { text } : {}),
      ...(html ? { html } : {}),
      variables: variablesOf(task, context),
      ...(context.ownerDeferred ? { ownerDeferred: true } : {}),
    };
  },
  async execute(request, deps) {
    return { output: await deps.sendEmail(request) };
  },
  async simulate(request, deps) {
    const email = renderEmail(await emailSources(request, deps.templates), request.variables);
    return { output: { to: request.to, subject: email.subject }, preview: { email: { to: request.to, ...email } } };
  },
};
