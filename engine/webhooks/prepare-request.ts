import { WebhookError } from './errors';
import { checkWebhookHeaders, parseWebhookUrl } from './request-checks';
import { signatureHeaderValue } from './signature';

/** The HTTP methods a webhook task may use. */
export const WEBHOOK_METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'] as const;
export type WebhookMethod = (typeof WEBHOOK_METHODS)[number];

/** The longest a single call may take, DNS to last body byte, in milliseconds. */
export const WEBHOOK_MAX_TIMEOUT_MS = 60_000;
/** The largest JSON body sent, in bytes as UTF-8. */
export const WEBHOOK_MAX_REQUEST_BYTES = 256 * 1024;
/** The longest idempotency key, in characters before escaping; a run's `<workflowId>:<taskId>` fits. */
export const WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH = 512;
/** What Creditflow calls itself unless the sender is told otherwise. */
export const WEBHOOK_USER_AGENT = 'Creditflow-Webhook/1';

/** One outgoing call, as a webhook task asks for it. */
export interface WebhookRequest {
  readonly url: string;
  readonly method: WebhookMethod;
  /** Custom headers; see checkWebhookHeaders for what is refused. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON value, sent as application/json; absent sends no body. */
  readonly body?: unknown;
  /** The whole call, DNS to last body byte, 1 to 60,000 ms. */
  readonly timeoutMs: number;
  /**
   * Sent as Idempotency-Key so the receiver can drop a retried call. Any
   * character but visible ASCII (and `%` itself) is sent percent-encoded as
   * UTF-8, since event ids in a workflow id may hold spaces or non-ASCII.
   */
  readonly idempotencyKey: string;
  /** When given, the call carries Creditflow-Signature over the raw body. */
  readonly signingSecret?: string;
}

/** A request checked and turned into what goes on the wire, still unsigned. */
export interface PreparedRequest {
  readonly url: URL;
  readonly method: WebhookMethod;
  readonly rawBody: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signingSecret?: string;
}

/** Everything outside visible ASCII, and `%` so the escaping stays one-to-one. */
const UNSAFE_KEY_CHARACTER = /[^\x21-\x24\x26-\x7e]/gu;
const METHODS_WITH_BODY: readonly WebhookMethod[] = ['POST', 'PUT', 'PATCH'];

function invalid(message: string): WebhookError {
  return new WebhookError('webhook_request_invalid', message);
}

function serialiseBody(body: unknown): Buffer | null {
  if (body === undefined) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch {
    throw invalid('The webhook body cannot be written as JSON (a cycle or a BigInt).');
  }
  if (json === undefined) throw invalid('The webhook body must be a JSON value.');
  const raw = Buffer.from(json, 'utf8');
  if (raw.length > WEBHOOK_MAX_REQUEST_BYTES) throw invalid(`The webhook body is ${raw.length} bytes as JSON; at most ${WEBHOOK_MAX_REQUEST_BYTES} are sent.`);
  return raw;
}

/** The key as a header value: visible ASCII kept, anything else as %XX of its UTF-8 bytes. */
export function idempotencyKeyHeader(key: string): string {
  return key.replace(UNSAFE_KEY_CHARACTER, (character) => [...Buffer.from(character, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/**
 * Checks a request and builds its body and headers. Every problem is a final
 * WebhookError: the same request would fail the same way on a retry.
 */
export function prepareRequest(request: WebhookRequest, userAgent: string): PreparedRequest {
  if (!WEBHOOK_METHODS.includes(request.method)) throw invalid(`The method must be one of ${WEBHOOK_METHODS.join(', ')}.`);
  const parsed = parseWebhookUrl(request.url);
  if ('problem' in parsed) throw new WebhookError('webhook_url_invalid', `The webhook URL ${parsed.problem}.`);
  const headerProblem = checkWebhookHeaders(request.headers ?? {});
  if (headerProblem !== null) throw new WebhookError('webhook_headers_invalid', `The webhook ${headerProblem}.`);
  if (!Number.isInteger(request.timeoutMs) || request.timeoutMs < 1 || request.timeoutMs > WEBHOOK_MAX_TIMEOUT_MS) {
    throw invalid(`timeoutMs must be a whole number from 1 to ${WEBHOOK_MAX_TIMEOUT_MS}.`);
  }
  if (typeof request.idempotencyKey !== 'string' || request.idempotencyKey.length < 1 || request.idempotencyKey.length > WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw invalid(`The idempotency key must be 1 to ${WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
  }
  if (request.signingSecret === '') throw invalid('The signing secret must not be empty.');
  const rawBody = serialiseBody(request.body);

  // Keys are lower case so a custom Content-Type or User-Agent replaces ours
  // instead of going out beside it.
  const headers: Record<string, string> = { 'user-agent': userAgent, 'accept-encoding': 'identity' };
  if (rawBody !== null) headers['content-type'] = 'application/json';
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['idempotency-key'] = idempotencyKeyHeader(request.idempotencyKey);
  if (rawBody !== null || METHODS_WITH_BODY.includes(request.method)) headers['content-length'] = String(rawBody?.length ?? 0);
  return { url: parsed.url, method: request.method, rawBody, headers, timeoutMs: request.timeoutMs, signingSecret: request.signingSecret };
}

/** The headers to send now: signed at the moment of sending, as the receiver's clock check expects. */
export function headersToSend(prepared: PreparedRequest, nowMs: number): Record<string, string> {
  if (prepared.signingSecret === undefined) return { ...prepared.headers };
  const signature = signatureHeaderValue(prepared.signingSecret, prepared.rawBody ?? '', Math.floor(nowMs / 1000));
  return { ...prepared.headers, 'creditflow-signature': signature };
}
