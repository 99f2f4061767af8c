// The webhook sender: one entry point (createWebhookSender) plus the checks a
// webhook task runs when its trigger is saved. See README.md in this folder.
export { createWebhookSender } from './sender';
export type { ResolvedAddress, WebhookResolver, WebhookResponse, WebhookSender, WebhookSenderOptions } from './sender';
export {
  WEBHOOK_MAX_IDEMPOTENCY_KEY_LENGTH, WEBHOOK_MAX_REQUEST_BYTES, WEBHOOK_MAX_TIMEOUT_MS, WEBHOOK_METHODS, WEBHOOK_USER_AGENT,
} from './prepare-request';
export type { WebhookMethod, WebhookRequest } from './prepare-request';
export {
  checkWebhookHeaders, checkWebhookUrl, WEBHOOK_MAX_HEADER_NAME_LENGTH, WEBHOOK_MAX_HEADER_VALUE_LENGTH, WEBHOOK_MAX_HEADERS,
  WEBHOOK_MAX_URL_LENGTH, WEBHOOK_RESERVED_HEADERS,
} from './request-checks';
export { WEBHOOK_MAX_RESPONSE_BYTES, WEBHOOK_MAX_RESPONSE_DEPTH } from './response-body';
export { WEBHOOK_MAX_RETRY_AFTER_SECONDS } from './retry-after';
export { webhookAllowedHostsSchema } from './allowed-hosts';
export { refusedAddressReason } from './address-ranges';
export { isWebhookError, WebhookError } from './errors';
export type { WebhookErrorCode, WebhookErrorDetails, WebhookUnavailableReason } from './errors';
export { computeSignature, signatureHeaderValue } from './signature';
