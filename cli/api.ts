import { createHmac } from 'node:crypto';
import { CliError } from './io';
import type { Settings } from './settings';

/** The longest a single request may take before the CLI gives up on it. */
const REQUEST_TIMEOUT_MS = 60_000;

/** An RFC 9457 problem as the API sends it. */
export interface Problem {
  status: number;
  code?: string;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** A non-2xx answer the caller did not expect, carrying the API's problem. */
export class ApiProblemError extends CliError {
  constructor(
    readonly what: string,
    readonly problem: Problem,
  ) {
    super(`${what} was refused: ${describeProblem(problem)}`);
    this.name = 'ApiProblemError';
  }
}

/** `422 trigger_invalid: The trigger has 1 problem(s).` plus one line per field problem. */
export function describeProblem(problem: Problem): string {
  const head = `${problem.status}${problem.code ? ` ${problem.code}` : ''}: ${problem.detail ?? 'no detail'}`;
  return [head, ...(problem.errors ?? []).map((error) => `  ${error.path}: ${error.message}`)].join('\n');
}

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, exactly
 * as the README's "Signing" section describes: the secret as issued (with
 * its `cfs_`), over the body bytes exactly as sent.
 */
export function signatureHeader(signingSecret: string, body: string, unixSeconds = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', signingSecret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

function authFailure(settings: Settings, problem: Problem): CliError {
  const why = describeProblem(problem);
  if (problem.status === 403) return new CliError(`the API key (from ${settings.keySource}) lacks the scope this needs (${why}); use a key with the admin scope, e.g. ADMIN_API_KEY`);
  if (problem.code?.startsWith('signature_')) {
    const hint = settings.signingSecret ? 'check the signing secret and the clock of this machine' : 'this key signs its requests: pass --signing-secret or set CREDITFLOW_SIGNING_SECRET';
    return new CliError(`the API refused the request's signature (${why}); ${hint}`);
  }
  return new CliError(`the API at ${settings.url} refused the API key from ${settings.keySource} (${why}); pass --key or set CREDITFLOW_API_KEY`);
}

function asProblem(status: number, body: unknown): Problem {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
  return { ...problem, status };
}

/**
 * The CLI's only way to the API: JSON over HTTP with the bearer key, signed
 * when a signing secret is set. An unreachable API, a 401 and a 403 become
 * CliErrors that say what to do; other statuses are the caller's to judge.
 */
export class ApiClient {
  constructor(
    readonly settings: Settings,
    private readonly signal?: AbortSignal,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const url = `${this.settings.url}${path}`;
    const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(this.signal ? [this.signal] : [])];
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.settings.key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.settings.signingSecret ? { 'creditflow-signature': signatureHeader(this.settings.signingSecret, payload) } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: payload } : {}),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      if (this.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new CliError(`cannot reach the Creditflow API at ${this.settings.url} (${reason}); is it running (npm run dev)? Set --url or CREDITFLOW_URL to point elsewhere`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`${method} ${url} answered ${response.status} with a body that is not JSON (is ${this.settings.url} the Creditflow API?): ${text.slice(0, 200)}`);
    }
    if (response.status === 401 || response.status === 403) throw authFailure(this.settings, asProblem(response.status, parsed));
    return { status: response.status, body: parsed as T };
  }

  /** Like `call`, but any status outside `expected` throws an ApiProblemError naming `what`. */
  async expect<T>(expected: number[], what: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    const response = await this.call<T>(method, path, body, headers);
    if (!expected.includes(response.status)) throw new ApiProblemError(what, asProblem(response.status, response.body));
    return response;
  }
}

/** The problem in a non-2xx response. */
export function problemOf(response: ApiResponse<unknown>): Problem {
  return asProblem(response.status, response.body);
}
