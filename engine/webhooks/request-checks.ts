import { isIP } from 'node:net';
import { isHostAllowed, parseAllowedHosts, type AllowedHost } from './allowed-hosts';
import { refusedAddressReason } from './address-ranges';

// The checks a webhook request must pass before anything is resolved or
// sent. The task kind calls checkWebhookUrl and checkWebhookHeaders when a
// trigger is saved, and the sender calls them again on every send, so a
// definition saved before a rule existed is still held to it.

/** Longer URLs are refused: they are a mistake or an attempt to smuggle data. */
export const WEBHOOK_MAX_URL_LENGTH = 2048;
/** At most this many custom headers per request. */
export const WEBHOOK_MAX_HEADERS = 20;
/** Longest custom header name, in characters. */
export const WEBHOOK_MAX_HEADER_NAME_LENGTH = 128;
/** Longest custom header value, in characters. */
export const WEBHOOK_MAX_HEADER_VALUE_LENGTH = 1024;

/**
 * Headers Creditflow sets itself: the signature and idempotency key must
 * mean what the receiver is told they mean, and the framing headers decide
 * where a request ends (a user's Transfer-Encoding beside our Content-Length
 * would make the receiver read another request out of the body).
 */
export const WEBHOOK_RESERVED_HEADERS: readonly string[] = [
  'creditflow-signature', 'idempotency-key', 'host', 'content-length', 'transfer-encoding',
  'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection',
];

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What Node writes verbatim in a header value: tab, visible ASCII and Latin-1. No CR or LF. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The URL parsed, or why it cannot be a webhook target at all (scheme, credentials, length). */
export function parseWebhookUrl(url: string): { url: URL } | { problem: string } {
  if (url.length > WEBHOOK_MAX_URL_LENGTH) return { problem: `must be at most ${WEBHOOK_MAX_URL_LENGTH} characters (it has ${url.length})` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: 'must be an absolute http: or https: URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { problem: `must use http: or https:, not ${parsed.protocol}` };
  if (parsed.username !== '' || parsed.password !== '') return { problem: 'must not contain credentials; send them in a header' };
  if (parsed.hostname === '') return { problem: 'must name a host' };
  return { url: parsed };
}

/** The IP address a URL names literally (without IPv6 brackets), or null for a host name. */
export function literalAddress(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? null : host;
}

/** Why an address may not be reached from this URL, or null when it may. */
export function addressProblem(url: URL, address: string, allowedHosts: readonly AllowedHost[]): string | null {
  if (isHostAllowed(url, allowedHosts)) return null;
  const reason = refusedAddressReason(address);
  if (reason === null) return null;
  const where = literalAddress(url) === null ? `${url.hostname} resolves to ${address}` : `the address ${address}`;
  return `${where} is refused (${reason}); list the host in WEBHOOK_ALLOWED_HOSTS to allow it`;
}

/**
 * Save-time check of a webhook URL: http: or https:, no credentials, at most
 * 2048 characters, and not a literal IP address the guard would refuse.
 * Returns the problem as a sentence fragment ("must use http: ..."), or null.
 * Host names are resolved only when sending: what they resolve to may change.
 */
export function checkWebhookUrl(url: string, allowedHosts: readonly string[]): string | null {
  const parsed = parseWebhookUrl(url);
  if ('problem' in parsed) return parsed.problem;
  const address = literalAddress(parsed.url);
  return address === null ? null : addressProblem(parsed.url, address, parseAllowedHosts(allowedHosts));
}

/**
 * Save-time check of a webhook's custom headers: at most 20, names are HTTP
 * tokens of at most 128 characters, used once (case-insensitively) and not
 * reserved, values at most 1024 characters without CR, LF or other control
 * characters. Returns the first problem, naming the header, or null.
 */
export function checkWebhookHeaders(headers: Readonly<Record<string, string>>): string | null {
  const entries = Object.entries(headers);
  if (entries.length > WEBHOOK_MAX_HEADERS) return `at most ${WEBHOOK_MAX_HEADERS} headers are allowed (there are ${entries.length})`;
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name) || name.length > WEBHOOK_MAX_HEADER_NAME_LENGTH) return `header name "${name.slice(0, WEBHOOK_MAX_HEADER_NAME_LENGTH)}" must be an HTTP token of at most ${WEBHOOK_MAX_HEADER_NAME_LENGTH} characters`;
    if (WEBHOOK_RESERVED_HEADERS.includes(lower)) return `header ${name} is set by Creditflow and cannot be given`;
    if (seen.has(lower)) return `header ${name} is given twice`;
    seen.add(lower);
    if (typeof value !== 'string') return `header ${name} must be a string`;
    if (value.length > WEBHOOK_MAX_HEADER_VALUE_LENGTH) return `header ${name} must be at most ${WEBHOOK_MAX_HEADER_VALUE_LENGTH} characters (it has ${value.length})`;
    if (!HEADER_VALUE.test(value)) return `header ${name} must not contain CR, LF or other control characters`;
  }
  return null;
}
