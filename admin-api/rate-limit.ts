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
