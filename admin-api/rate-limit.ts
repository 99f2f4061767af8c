import type { RequestHandler } from 'express';
import { rateLimit, type AugmentedRequest } from 'express-rate-limit';
import { DomainError } from '../engine/errors';

/**
 * Named limits a route can opt into with `rateLimit` in `routes.add`:
 * `ingestion` for POST /v1/events, `script_test` for script test-runs.
 */
export const RATE_LIMIT_POLICIES = ['ingestion', 'script_test'] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];

/** Requests per minute per API key, for each policy. */
export type RateLimits = Readonly<Record<RateLimitPolicy, number>>;

const WINDOW_MS = 60_000;

/** 429 through the one problem path; the problem middleware turns `retryAfterSeconds` into `Retry-After`. */
export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number, limitPerMinute: number) {
    super('rate_limited', 'rate_limited', `This API key may send ${limitPerMinute} such requests per minute; retry in ${retryAfterSeconds} s.`);
  }
}

/** 429 for a key that already has its share of one kind of request in flight; `Retry-After` as for `RateLimitedError`. */
export class ConcurrencyLimitedError extends DomainError {
  constructor(code: string, readonly retryAfterSeconds: number, limit: number) {
    super(code, 'rate_limited', `This API key may have ${limit} such requests in flight at once; retry in ${retryAfterSeconds} s, or once one of them has answered.`);
  }
}

/**
 * At most `limit` requests in flight per API key, counted in this process
 * only (N replicas allow N times as many). A rate per minute cannot stop one
 * key from filling a shared resource with slow requests; this can. Keys
 * with nothing in flight are forgotten, so memory is bounded by the keys
 * currently active.
 */
export class PerKeyConcurrency {
  private readonly inFlight = new Map<string, number>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`per-key concurrency must be a positive integer, got ${limit}`);
  }

  /** Takes a slot for `keyId`: the function to call once the request is done, or null when the key is at its limit. */
  tryAcquire(keyId: string): (() => void) | null {
    const current = this.inFlight.get(keyId) ?? 0;
    if (current >= this.limit) return null;
    this.inFlight.set(keyId, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(keyId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(keyId, left);
      else this.inFlight.delete(keyId);
    };
  }
}

/**
 * A fixed one-minute window per API key, counted in this process only: with
 * N replicas behind a balancer a key gets up to N times the limit. Runs after
 * authentication, so it counts by key id and never by IP.
 */
export function perKeyRateLimit(limitPerMinute: number): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: limitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => req.principal?.keyId ?? 'unauthenticated',
    handler: (req, _res, next) => {
      const resetAtMs = (req as AugmentedRequest).rateLimit?.resetTime?.getTime() ?? Date.now() + WINDOW_MS;
      next(new RateLimitedError(Math.max(1, Math.ceil((resetAtMs - Date.now()) / 1000)), limitPerMinute));
    },
  });
}

/** One limiter per policy; each keeps its own counts. */
export function rateLimiters(limits: RateLimits): Record<RateLimitPolicy, RequestHandler> {
  return { ingestion: perKeyRateLimit(limits.ingestion), script_test: perKeyRateLimit(limits.script_test) };
}
