import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { parseAllowedHosts, type AllowedHost } from './allowed-hosts';
import { WebhookError } from './errors';
import { headersToSend, prepareRequest, WEBHOOK_USER_AGENT, type PreparedRequest, type WebhookRequest } from './prepare-request';
import { addressProblem, literalAddress } from './request-checks';
import { captureBody, decodeBody } from './response-body';
import { receiverHealth } from './receiver-health';
import { parseRetryAfter } from './retry-after';

// The webhook sender owns an outgoing call end to end: checking the request,
// resolving the host, refusing internal addresses, pinning the connection to
// the addresses it checked, signing, the deadline, and turning the answer
// into a response or a WebhookError that says whether to retry.

/** One address a host name resolves to; family is 4 or 6. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a host name to every address it has (dns.lookup with all: true unless replaced in tests). */
export type WebhookResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface WebhookSenderOptions {
  /** `host` or `host:port` entries (WEBHOOK_ALLOWED_HOSTS) exempt from the address guard. */
  readonly allowedHosts: readonly string[];
  readonly resolve?: WebhookResolver;
  readonly userAgent?: string;
}

/** A 2xx answer: the body is parsed JSON when it is JSON and whole, else text. */
export interface WebhookResponse {
  readonly status: number;
  readonly body: unknown;
  /** True when the receiver sent more than 64 KB and only the first 64 KB were read. */
  readonly truncated: boolean;
}

export interface WebhookSender {
  /** Sends one call; resolves on 2xx, otherwise throws a WebhookError. */
  send(request: WebhookRequest): Promise<WebhookResponse>;
  /** Whether the receiver at this URL's origin is failing or slow now, as this sender's calls found it (receiver-health.ts). */
  isFailing(url: string): boolean;
}

const defaultResolve: WebhookResolver = (hostname) => dnsLookup(hostname, { all: true });

/** Ends the call when its time is up; failures after that are reported as the timeout. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly timeoutMs: number) {
    this.timer = setTimeout(() => this.controller.abort(), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Settles with the promise, or rejects once the deadline passes (the promise is then left to settle unheard). */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new Error('deadline passed'));
      if (this.expired) onAbort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => this.signal.removeEventListener('abort', onAbort));
    });
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/**
 * The addresses the call may connect to: the literal IP, or every address the
 * host resolves to, each checked unless the host is allowed. One refused
 * address refuses the call, since the connection could pick any of them.
 */
async function checkedAddresses(url: URL, resolve: WebhookResolver, allowed: readonly AllowedHost[], deadline: Deadline): Promise<ResolvedAddress[]> {
  const literal = literalAddress(url);
  const addresses = literal !== null
    ? [{ address: literal, family: literal.includes(':') ? 6 : 4 }]
    : [...await deadline.race(resolve(url.hostname))];
  if (addresses.length === 0) throw new WebhookError('webhook_unavailable', `${url.hostname} resolved to no address.`, { reason: 'network' });
  for (const { address } of addresses) {
    const problem = addressProblem(url, address, allowed);
    if (problem !== null) throw new WebhookError('webhook_address_refused', `The webhook was not sent: ${problem}.`, { host: url.hostname, address });
  }
  return addresses;
}

/**
 * A lookup that answers only the checked addresses, so the socket connects to
 * what was checked even if the name would resolve elsewhere by now (DNS
 * rebinding). The Host header and TLS server name still come from the URL.
 */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const usable = addresses.filter((entry) => !options.family || entry.family === options.family);
    const [first] = usable;
    if (!first) {
      callback(Object.assign(new Error('no checked address of the requested family'), { code: 'ENOTFOUND' }), '', 0);
    } else if (options.all) {
      callback(null, usable.map((entry) => ({ address: entry.address, family: entry.family })));
    } else {
      callback(null, first.address, first.family);
    }
  };
}

function open(prepared: PreparedRequest, addresses: readonly ResolvedAddress[], deadline: Deadline): Promise<IncomingMessage> {
  const { url } = prepared;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: prepared.method,
      headers: headersToSend(prepared, Date.now()),
      lookup: pinnedLookup(addresses),
      // A fresh connection per call: a pooled socket would skip the pin.
      agent: false,
      signal: deadline.signal,
    }, resolve);
    request.once('error', reject);
    request.end(prepared.rawBody ?? undefined);
  });
}

function statusError(response: IncomingMessage, status: number, body: unknown, truncated: boolean): WebhookError {
  if (status === 429 || status >= 500) {
    const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'], Date.now());
    const details = retryAfterSeconds === undefined ? { status, reason: 'status' as const } : { status, retryAfterSeconds, reason: 'status' as const };
    return new WebhookError('webhook_unavailable', `The receiver answered ${status}; the call will be retried.`, details);
  }
  if (status >= 300 && status < 400) {
    const location = response.headers.location ?? '';
    return new WebhookError('webhook_redirect_refused', `The receiver answered ${status} redirecting to ${location || '(no Location)'}; redirects are not followed, since the new address would escape the address check. Use the final URL.`, { status, location });
  }
  return new WebhookError('webhook_rejected', `The receiver refused the call with ${status}.`, { status, body, truncated });
}

/** 2xx and final 4xx answers carry a body worth keeping; redirects, 429 and 5xx do not. */
function bodyWanted(status: number): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);
}

async function exchange(prepared: PreparedRequest, addresses: readonly ResolvedAddress[], deadline: Deadline): Promise<WebhookResponse> {
  const response = await open(prepared, addresses, deadline);
  const status = response.statusCode ?? 0;
  if (!bodyWanted(status)) {
    response.destroy();
    throw statusError(response, status, undefined, false);
  }
  const captured = await captureBody(response);
  const body = decodeBody(captured, response.headers['content-type']);
  if (status >= 200 && status < 300) return { status, body, truncated: captured.truncated };
  throw statusError(response, status, body, captured.truncated);
}

function failure(error: unknown, url: URL, deadline: Deadline): WebhookError {
  if (error instanceof WebhookError) return error;
  if (deadline.expired) {
    return new WebhookError('webhook_unavailable', `The call to ${url.host} took longer than ${deadline.timeoutMs} ms; it will be retried.`, { reason: 'timeout' });
  }
  const code = (error as { code?: unknown } | null)?.code;
  const what = typeof code === 'string' ? code : 'a network error';
  return new WebhookError('webhook_unavailable', `The call to ${url.host} failed with ${what}; it will be retried.`, { reason: 'network' });
}

/**
 * Builds the sender webhook tasks call. allowedHosts is parsed once here (an
 * unusable entry throws, as it is a configuration mistake); the resolver is
 * replaceable for tests.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const allowed = parseAllowedHosts(options.allowedHosts);
  const resolve = options.resolve ?? defaultResolve;
  const userAgent = options.userAgent ?? WEBHOOK_USER_AGENT;
  const health = receiverHealth();
  return {
    async send(request) {
      const prepared = prepareRequest(request, userAgent);
      return health.watch(prepared.url.origin, async () => {
        const deadline = new Deadline(prepared.timeoutMs);
        try {
          const addresses = await checkedAddresses(prepared.url, resolve, allowed, deadline);
          return await exchange(prepared, addresses, deadline);
        } catch (error) {
          throw failure(error, prepared.url, deadline);
        } finally {
          deadline.clear();
        }
      });
    },
    isFailing(url) {
      return URL.canParse(url) && health.isFailing(new URL(url).origin);
    },
  };
}
