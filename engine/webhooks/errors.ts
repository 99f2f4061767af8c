import { DomainError } from '../errors';

/**
 * Why a webhook call failed. Only `webhook_unavailable` (network error,
 * timeout, 429, 5xx) is worth retrying; every other code is final, because
 * sending the same request again would get the same answer.
 */
export type WebhookErrorCode =
  | 'webhook_url_invalid'
  | 'webhook_headers_invalid'
  | 'webhook_request_invalid'
  | 'webhook_address_refused'
  | 'webhook_redirect_refused'
  | 'webhook_rejected'
  | 'webhook_unavailable';

/** What went wrong below HTTP for a `webhook_unavailable` without a status. */
export type WebhookUnavailableReason = 'network' | 'timeout' | 'status';

/** Facts about a failed call, each present only where it applies. */
export interface WebhookErrorDetails {
  /** The HTTP status the receiver answered. */
  readonly status?: number;
  /** From a Retry-After header on 429 or 5xx, in whole seconds, at most a day. */
  readonly retryAfterSeconds?: number;
  /** The captured response body of a `webhook_rejected` (at most 64 KB). */
  readonly body?: unknown;
  readonly truncated?: boolean;
  /** The Location of a refused redirect. */
  readonly location?: string;
  /** The host and the address a `webhook_address_refused` names. */
  readonly host?: string;
  readonly address?: string;
  readonly reason?: WebhookUnavailableReason;
}

/**
 * A webhook call's expected failure, with a snake_case code and whether a
 * retry may succeed. Callers branch on `code` and `retryable`, never on the
 * message, which is written for the admin reading the run.
 */
export class WebhookError extends DomainError {
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  readonly body?: unknown;
  readonly truncated?: boolean;
  readonly location?: string;
  readonly host?: string;
  readonly address?: string;
  readonly reason?: WebhookUnavailableReason;

  constructor(
    override readonly code: WebhookErrorCode,
    message: string,
    details: WebhookErrorDetails = {},
  ) {
    const retryable = code === 'webhook_unavailable';
    super(code, retryable ? 'unavailable' : 'invalid', message);
    this.name = 'WebhookError';
    this.retryable = retryable;
    Object.assign(this, details);
  }
}

export function isWebhookError(error: unknown): error is WebhookError {
  return error instanceof WebhookError;
}
