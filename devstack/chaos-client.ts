import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP answer: the status and the parsed JSON body (undefined when empty or not JSON). */
export interface Answer<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** What a request with retries came to: the last answer (none when every attempt failed), and what it took. */
export interface Outcome<T = unknown> {
  readonly answer: Answer<T> | undefined;
  readonly attempts: number;
  /** When the final answer arrived (ms since the epoch). */
  readonly answeredAt: number;
  /** The last transport error or retryable status, when no final answer came. */
  readonly lastProblem?: string;
}

/** A request that never answers (its server is frozen or gone) is abandoned after this and retried elsewhere. */
const REQUEST_TIMEOUT_MS = 20_000;
const BACKOFF_MS = [100, 250, 500, 1_000, 2_000] as const;

/** Statuses a client retries: the server failed or shed load, the request itself was fine. */
function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * A client as a real booking system would run one against several API
 * replicas: each attempt goes to the next replica (round-robin), and a
 * transport error (refused, reset, timed out) or a 5xx is retried with the
 * SAME request (so the same event id) with backoff, until a deadline.
 */
export class RetryingClient {
  private turn = 0;
  private readonly agents: http.Agent[];
  /** Attempts that failed and were retried, by cause (`ECONNREFUSED`, `503`, ...). */
  readonly retries = new Map<string, number>();
  /** The slowest single attempt that got an answer: a replica that answers, but late. */
  slowest = { ms: 0, request: '' };

  constructor(
    private readonly baseUrls: readonly string[],
    private readonly adminKey: string,
  ) {
    this.agents = baseUrls.map(() => new http.Agent({ keepAlive: true, maxSockets: 32 }));
  }

  /** Sends until an answer that is not retryable, or until `deadlineMs` passes. */
  async request<T>(method: string, path: string, body: unknown, deadlineMs: number): Promise<Outcome<T>> {
    const deadline = Date.now() + deadlineMs;
    let lastProblem = '';
    for (let attempt = 1; ; attempt += 1) {
      const replica = this.turn++ % this.baseUrls.length;
      const attemptStart = Date.now();
      try {
        const answer = await this.once<T>(replica, method, path, body);
        const tookMs = Date.now() - attemptStart;
        if (tookMs > this.slowest.ms) this.slowest = { ms: tookMs, request: `${method} ${path} -> ${answer.status} via ${this.baseUrls[replica]}` };
        if (!isRetryableStatus(answer.status)) return { answer, attempts: attempt, answeredAt: Date.now() };
        lastProblem = `${answer.status}`;
      } catch (error) {
        lastProblem = (error as NodeJS.ErrnoException).code ?? 'transport_error';
      }
      this.retries.set(lastProblem, (this.retries.get(lastProblem) ?? 0) + 1);
      if (Date.now() >= deadline) return { answer: undefined, attempts: attempt, answeredAt: Date.now(), lastProblem };
      await sleep(BACKOFF_MS[Math.min(attempt - 1, BACKOFF_MS.length - 1)]!);
    }
  }

  /** GET with retries; throws when no answer came by the deadline. */
  async get<T>(path: string, deadlineMs = 60_000): Promise<Answer<T>> {
    const outcome = await this.request<T>('GET', path, undefined, deadlineMs);
    if (!outcome.answer) throw new Error(`GET ${path}: no answer within ${deadlineMs / 1000} s (last: ${outcome.lastProblem})`);
    return outcome.answer;
  }

  close(): void {
    for (const agent of this.agents) agent.destroy();
  }

  /** One attempt at one replica; rejects on a transport error or after REQUEST_TIMEOUT_MS. */
  private once<T>(replica: number, method: string, path: string, body: unknown): Promise<Answer<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${this.adminKey}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) };
    return new Promise((resolve, reject) => {
      const request = http.request(new URL(path, this.baseUrls[replica]), { method, headers, agent: this.agents[replica] }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: parseJson(Buffer.concat(chunks).toString('utf8')) as T }));
      });
      request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
      request.on('error', reject);
      request.end(payload);
    });
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
