import { ApplicationFailure } from '@temporalio/activity';
import type { FieldProblem } from '../engine/errors';
import { DomainError } from '../engine/errors';
import {
  checkWebhookHeaders, checkWebhookUrl, isWebhookError, WEBHOOK_MAX_REQUEST_BYTES, WEBHOOK_MAX_TIMEOUT_MS, WEBHOOK_MAX_URL_LENGTH, WEBHOOK_METHODS,
  WEBHOOK_USER_AGENT, type WebhookMethod, type WebhookRequest,
} from '../engine/webhooks';
import { prepareRequest } from '../engine/webhooks/prepare-request';
import { z } from '../engine/zod';
import { valueAtPath } from '../workflows/references';
import { TaskInputError } from '../workflows/task-inputs';
import type { RunContext, TaskSpec } from '../workflows/types';
import { inLocalActivity } from './local-attempt';
import type { TaskKind } from './task-kind';

type WebhookTask = TaskSpec & {
  url: string;
  method: WebhookMethod;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
};

/** The request with every template resolved; signed only when it is sent. */
type PreparedWebhook = Omit<WebhookRequest, 'signingSecret'>;

/** What a webhook task outputs: the receiver's 2xx answer. */
export interface WebhookOutput {
  status: number;
  /** Parsed JSON when the answer is JSON and whole, else text. */
  body: unknown;
  /** Present (true) when the receiver sent more than 64 KB and only the first 64 KB were kept. */
  truncated?: true;
}

/** How long a call may take unless the task says otherwise. */
export const WEBHOOK_DEFAULT_TIMEOUT_MS = 10_000;
/** The longest a call may take in the task's first attempt, which runs in the worker (see `execution`). */
export const WEBHOOK_LOCAL_TIMEOUT_MS = 3_000;

/**
 * The shortest and longest wait before a retry that a receiver's Retry-After
 * (429, 503) sets; past the retry policy's maximum interval it would hold
 * the run longer than the policy ever would.
 */
const RETRY_AFTER_MIN_SECONDS = 1;
const RETRY_AFTER_MAX_SECONDS = 5 * 60;

/** `{{ path }}` inside a string; the path is checked separately so a malformed one can be named. */
const TEMPLATE_PART = /\{\{([^{}]*)\}\}/g;
const WHOLE_TEMPLATE = /^\{\{([^{}]*)\}\}$/;
const PATH = /^[A-Za-z_$][\w$]*(\.[\w$-]+)*$/;

/** The malformed `{{...}}` parts of a string, as messages; a `{{` without its `}}` counts. */
function templateProblems(text: string): string[] {
  const problems = [...text.matchAll(TEMPLATE_PART)]
    .filter(([, inner]) => !PATH.test(inner!.trim()))
    .map(([part]) => `${part} is not a {{path}} reference such as {{data.reservation.id}}`);
  if (problems.length === 0 && text.replace(TEMPLATE_PART, '').includes('{{')) problems.push('has a {{ without its closing }}');
  return problems;
}

/** Every malformed template in a JSON value, with the dotted path of the string holding it. */
function bodyTemplateProblems(value: unknown, path: string): FieldProblem[] {
  if (typeof value === 'string') return templateProblems(value).map((message) => ({ path, message }));
  if (Array.isArray(value)) return value.flatMap((item, index) => bodyTemplateProblems(item, `${path}.${index}`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => bodyTemplateProblems(item, `${path}.${key}`));
  return [];
}

function lookup(context: RunContext, path: string, field: string): unknown {
  const value = valueAtPath(context, path);
  if (value === undefined) throw new TaskInputError('reference_missing', `${field}: nothing at "${path}" in the run's data`);
  return value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A string with `{{path}}` parts filled in as text; `encode` escapes each
 * value (URL parts). A missing path is a final `reference_missing`.
 */
function interpolate(text: string, context: RunContext, field: string, encode: (value: string, offset: number) => string = (value) => value): string {
  return text.replace(TEMPLATE_PART, (_part, inner: string, offset: number) => encode(asText(lookup(context, inner.trim(), field)), offset));
}

/**
 * A body value with its templates resolved: a string that is one whole
 * `{{path}}` becomes the value there, keeping its JSON type (a number stays
 * a number, an object an object); `{{path}}` inside other text is filled in
 * as text. Never evaluated as code.
 */
export function resolveBody(value: unknown, context: RunContext, field = 'body'): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_TEMPLATE.exec(value);
    return whole ? lookup(context, whole[1]!.trim(), field) : interpolate(value, context, field);
  }
  if (Array.isArray(value)) return value.map((item, index) => resolveBody(item, context, `${field}.${index}`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveBody(item, context, `${field}.${key}`)]));
  }
  return value;
}

/**
 * The URL with its templates filled in. A reference that starts the URL is
 * inserted as written (a base URL such as `{{data.callbackUrl}}`); any other
 * is percent-encoded, so a value from event data cannot add path segments,
 * a query or a fragment of its own. The sender checks the result again.
 */
export function resolveUrl(url: string, context: RunContext): string {
  const whole = WHOLE_TEMPLATE.exec(url);
  const resolved = whole ? lookup(context, whole[1]!.trim(), 'url') : interpolate(url, context, 'url', (value, offset) => (offset === 0 ? value : encodeURIComponent(value)));
  if (typeof resolved !== 'string') throw new TaskInputError('webhook_url_invalid', `url: "${whole![1]!.trim()}" must hold a URL string; got ${JSON.stringify(resolved)}`);
  return resolved;
}

function urlProblems(url: string, allowedHosts: readonly string[]): string[] {
  const templates = templateProblems(url);
  if (templates.length > 0) return templates;
  if (!url.includes('{{')) {
    const problem = checkWebhookUrl(url, allowedHosts);
    return problem === null ? [] : [problem];
  }
  // Templated: what it resolves to is checked when it is sent; a literal scheme can be checked now.
  if (!url.startsWith('{{') && !/^https?:\/\//i.test(url)) return ['must use http: or https:'];
  return [];
}

/** A Retry-After the receiver sent, as the wait before the next attempt; undefined leaves the retry policy's backoff. */
function retryAfterFailure(error: unknown): ApplicationFailure | undefined {
  if (!isWebhookError(error) || !error.retryable || error.retryAfterSeconds === undefined) return undefined;
  const seconds = Math.min(Math.max(error.retryAfterSeconds, RETRY_AFTER_MIN_SECONDS), RETRY_AFTER_MAX_SECONDS);
  // The delay rides in the details too: a workflow receives a local attempt's failure without nextRetryDelay (the SDK drops it there).
  return ApplicationFailure.create({ message: error.message, type: error.code, nonRetryable: false, nextRetryDelay: `${seconds} seconds`, details: [{ retryAfterMs: seconds * 1000 }] });
}

function outputOf(response: { status: number; body: unknown; truncated: boolean }): WebhookOutput {
  return { status: response.status, body: response.body, ...(response.truncated ? { truncated: true as const } : {}) };
}

/**
 * `webhook`: one HTTP call to a receiver the admin names, with a JSON body
 * built from the run context, through the address guard (engine/webhooks).
 * Signed with the trigger's webhook secret and sent with `Idempotency-Key:
 * <workflowId>:<taskId>`, so a receiver can verify it and drop a retried
 * call. Network errors, timeouts, 429 and 5xx are retried with backoff (or
 * after the receiver's Retry-After, at most 5 minutes); other 4xx, refused
 * addresses and redirects fail at once.
 */
export const webhookKind: TaskKind<WebhookTask, PreparedWebhook> = {
  type: 'webhook',
  fields: z.object({
    url: z.string().min(1).max(WEBHOOK_MAX_URL_LENGTH).openapi({ description: 'An http: or https: URL; `{{path}}` parts are filled from the run context (percent-encoded, except one that starts the URL).', example: 'https://billing.example.com/hooks/credits' }),
    method: z.enum(WEBHOOK_METHODS).default('POST'),
    headers: z.record(z.string(), z.string()).optional().openapi({ description: 'Custom headers; values may hold `{{path}}` parts. Creditflow-Signature, Idempotency-Key and framing headers are set by Creditflow.' }),
    body: z.unknown().optional().openapi({ description: 'A JSON value sent as application/json. A string that is one whole `{{path}}` becomes the value there with its JSON type; `{{path}}` inside text is filled in as text.', example: { ownerId: '{{reservation.user.id}}', amount: '{{tasks.compute.amount_cents}}' } }),
    timeoutMs: z.number().int().min(1).max(WEBHOOK_MAX_TIMEOUT_MS).default(WEBHOOK_DEFAULT_TIMEOUT_MS).openapi({ description: `The whole call, DNS to the last byte of the answer, in ms (at most ${WEBHOOK_MAX_TIMEOUT_MS}).` }),
  }),
  validate(task, { at, webhookAllowedHosts }) {
    const problems: FieldProblem[] = urlProblems(task.url, webhookAllowedHosts).map((message) => ({ path: at('url'), message }));
    const headers = task.headers ?? {};
    const headerProblem = checkWebhookHeaders(headers);
    if (headerProblem !== null) problems.push({ path: at('headers'), message: headerProblem });
    for (const [name, value] of Object.entries(headers)) problems.push(...templateProblems(value).map((message) => ({ path: at(`headers.${name}`), message })));
    problems.push(...bodyTemplateProblems(task.body, at('body')));
    const literalBytes = task.body === undefined ? 0 : Buffer.byteLength(JSON.stringify(task.body), 'utf8');
    if (literalBytes > WEBHOOK_MAX_REQUEST_BYTES) problems.push({ path: at('body'), message: `must be at most ${WEBHOOK_MAX_REQUEST_BYTES} bytes as JSON (it has ${literalBytes})` });
    return problems;
  },
  // The first attempt runs in the worker as a local activity, sparing the run two trips through the
  // Temporal server, with the call cut at WEBHOOK_LOCAL_TIMEOUT_MS; a receiver that is slower than
  // that, or failing already (WebhookSender.isFailing), is left to the regular activity, which
  // retries with the task's own timeout and the backoff below. So a slow receiver never holds the
  // worker's local-activity slots that scripts and postings need for longer than that.
  execution: {
    mode: 'activity',
    local: false,
    localFirst: { startToCloseTimeout: '10 seconds', backoff: true },
    // Above the longest call a task may ask for (60 s), with room to read the secret.
    startToCloseTimeout: '90 seconds',
    // Receivers drop a retried call by its Idempotency-Key, so retrying through an outage is safe;
    // 20 attempts at most 5 minutes apart give a receiver about an hour and a half to come back.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 20 },
  },
  // Up to the query, which may carry a token that the Temporal UI should not show.
  summary: (task) => `${task.method} ${task.url.split('?')[0]}`,
  prepare(task, context, effect) {
    const headers = Object.fromEntries(Object.entries(task.headers ?? {}).map(([name, value]) => [name, interpolate(value, context, `headers.${name}`)]));
    return {
      url: resolveUrl(task.url, context),
      method: task.method,
      ...(task.headers ? { headers } : {}),
      ...(task.body !== undefined ? { body: resolveBody(task.body, context) } : {}),
      timeoutMs: task.timeoutMs,
      idempotencyKey: effect.key,
    };
  },
  async execute(request, deps, _task, context) {
    if (!deps.webhooks || !deps.webhookSecret) throw new DomainError('webhook_unavailable', 'unavailable', 'This worker has no webhook sender; the call is retried until a worker that has one picks it up.');
    const triggerId = context.trigger.id;
    const signingSecret = await deps.webhookSecret(triggerId);
    if (signingSecret === undefined) {
      throw new TaskInputError('webhook_secret_missing', `Trigger ${triggerId} has no webhook secret (it was created before triggers had one), and webhooks are never sent unsigned. Rotate it with POST /v1/triggers/${triggerId}/webhook-secret/rotate, give the receiver the new secret, then run again.`);
    }
    const local = inLocalActivity();
    if (local && deps.webhooks.isFailing(request.url)) {
      throw new DomainError('webhook_unavailable', 'unavailable', 'The receiver is failing or slow; the call goes to the regular activity, which retries with backoff.');
    }
    try {
      // A call cut short here is retried whole by the regular activity: the receiver drops the repeat by its Idempotency-Key.
      const timeoutMs = local ? Math.min(request.timeoutMs, WEBHOOK_LOCAL_TIMEOUT_MS) : request.timeoutMs;
      return { output: outputOf(await deps.webhooks.send({ ...request, timeoutMs, signingSecret })) };
    } catch (error) {
      throw retryAfterFailure(error) ?? error;
    }
  },
  async simulate(request) {
    // The same checks the sender runs first; the headers are those sent, less the signature added at sending.
    const prepared = prepareRequest(request, WEBHOOK_USER_AGENT);
    const webhook = { method: prepared.method, url: prepared.url.href, headers: prepared.headers, ...(request.body !== undefined ? { body: request.body } : {}) };
    return { output: null, preview: { webhook } };
  },
};
