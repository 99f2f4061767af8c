import { OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { ZodType } from 'zod';
import { authenticate, requireOwner, requireScope, type KeyResolver, type Principal, type Scope } from './auth';
import type { RateLimitPolicy } from './rate-limit';
import { problemSchema } from './schemas';
import { DomainError } from '../engine/errors';
import { zodProblems } from './problem';
import { z } from './zod';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Infer<T> = T extends ZodType ? z.infer<T> : undefined;

/** What a handler returns: the status, a JSON body, and optional headers. */
export interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal | undefined;
  req: Request;
  res: Response;
}

/**
 * One route: its zod schemas validate the request, type the handler, and
 * describe it in the OpenAPI document, all from this one declaration.
 */
export interface RouteSpec<P extends ZodType | undefined, Q extends ZodType | undefined, B extends ZodType | undefined> {
  method: Method;
  /** Express syntax, e.g. `/v1/accounts/:ownerId`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** The scope required; omit for public operational routes. */
  scope?: Scope;
  /**
   * The path parameter naming the owner whose data the route reads, on the
   * routes an owner-scoped key may call (e.g. `ownerId`); a key scoped to
   * another owner gets 404. Routes without it refuse owner-scoped keys (403).
   */
  ownerParam?: string;
  /** Counts requests per API key under this named limit (429 past it); needs `scope`. */
  rateLimit?: RateLimitPolicy;
  params?: P;
  query?: Q;
  body?: B;
  /** Per status: the JSON schema, and other media types the route can answer with (by `Accept`), each described in words. */
  responses: Record<number, { description: string; schema?: ZodType; alternatives?: Record<string, string> }>;
  handler: (input: RouteInput<Infer<P>, Infer<Q>, Infer<B>>) => Promise<RouteResult>;
}

/** Error statuses every authenticated route can answer with. */
const COMMON_ERRORS: Record<number, string> = {
  400: 'Malformed JSON or URL encoding, an unreadable body, or a cursor this endpoint did not return.',
  401: 'Missing, unknown or revoked API key, or a missing or bad Creditflow-Signature from a key that signs.',
  403: 'The API key lacks the required scope.',
  413: 'Request body too large.',
  422: 'The request breaks a rule; `errors` names each failing path.',
  500: 'Unexpected error.',
};

/** Routes that take a JSON body can also refuse its encoding. */
const UNSUPPORTED_ENCODING = 'The body\'s Content-Encoding or charset is not supported (send identity, gzip, deflate or br; UTF-8).';

const RATE_LIMITED = 'Too many requests from this API key; `Retry-After` says how many seconds to wait.';

function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `String.prototype.isWellFormed`, which the compiler's lib (ES2023) does not declare yet. */
function isWellFormed(value: string): boolean {
  return !value.match(LONE_SURROGATE);
}

interface WalkNode { value: unknown; key: string | undefined; parent: WalkNode | undefined }

function pathOf(node: WalkNode | undefined, last?: string): string[] {
  const reversed = last === undefined ? [] : [last];
  for (let at = node; at?.key !== undefined; at = at.parent) reversed.push(at.key);
  return reversed.reverse();
}

/**
 * The path of the first string (value or object key) in a parsed request
 * part that is not well-formed Unicode, e.g. a lone surrogate from a JSON
 * `"\ud800"` escape. The store would turn each into U+FFFD, so distinct ids
 * would become one. Walks with an explicit stack and parent links (the path
 * is built only for the string refused): deep input cannot overflow it, and
 * the cost is linear in the input.
 */
export function illFormedStringPath(value: unknown): string[] | undefined {
  const stack: WalkNode[] = [{ value, key: undefined, parent: undefined }];
  for (let node = stack.pop(); node; node = stack.pop()) {
    const current = node.value;
    if (typeof current === 'string') {
      if (!isWellFormed(current)) return pathOf(node);
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        if (!isWellFormed(key)) return pathOf(node, key.replace(LONE_SURROGATE, '\uFFFD'));
        stack.push({ value: item, key, parent: node });
      }
    }
  }
  return undefined;
}

function parsePart<T extends ZodType | undefined>(schema: T | undefined, value: unknown, part: string): Infer<T> {
  if (!schema) return undefined as Infer<T>;
  const illFormed = illFormedStringPath(value);
  if (illFormed) {
    const path = [part === 'body' ? '' : part, ...illFormed].filter(Boolean).join('.') || '(body)';
    throw new DomainError('string_not_well_formed', 'invalid', `The request ${part} holds a string that is not well-formed Unicode (a lone surrogate) at ${path}.`, [{ path, message: 'must be well-formed Unicode (no lone surrogates)' }]);
  }
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const prefix = part === 'body' ? '' : part;
    throw new DomainError('validation_failed', 'invalid', `The request ${part} does not match the schema.`, zodProblems(parsed.error, prefix));
  }
  return parsed.data as Infer<T>;
}

/** Collects routes into one express router and one OpenAPI registry. */
export class RouteTable {
  readonly router = Router();
  readonly registry = new OpenAPIRegistry();
  readonly specs: Array<{ method: Method; path: string }> = [];

  constructor(
    private readonly resolveKey: KeyResolver,
    private readonly limiters: Record<RateLimitPolicy, RequestHandler>,
  ) {
    this.registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
    this.registry.register('Problem', problemSchema);
  }

  add<P extends ZodType | undefined = undefined, Q extends ZodType | undefined = undefined, B extends ZodType | undefined = undefined>(spec: RouteSpec<P, Q, B>): this {
    this.specs.push({ method: spec.method, path: spec.path });
    this.registry.registerPath(this.describe(spec));
    const guards: RequestHandler[] = spec.scope ? [authenticate(this.resolveKey), requireScope(spec.scope), requireOwner(spec.ownerParam)] : [];
    if (spec.rateLimit) guards.push(this.limiters[spec.rateLimit]);
    this.router[spec.method](spec.path, ...guards, this.wrap(spec));
    return this;
  }

  private wrap<P extends ZodType | undefined, Q extends ZodType | undefined, B extends ZodType | undefined>(spec: RouteSpec<P, Q, B>): RequestHandler {
    return async (req, res) => {
      const input = {
        params: parsePart<P>(spec.params, req.params, 'params'),
        query: parsePart<Q>(spec.query, req.query, 'query'),
        body: parsePart<B>(spec.body, req.body, 'body'),
        principal: req.principal,
        req,
        res,
      };
      const result = await spec.handler(input);
      if (res.headersSent) return;
      res.status(result.status).set(result.headers ?? {});
      if (result.body === undefined) res.end();
      else res.json(result.body);
    };
  }

  private describe<P extends ZodType | undefined, Q extends ZodType | undefined, B extends ZodType | undefined>(spec: RouteSpec<P, Q, B>): RouteConfig {
    const responses: RouteConfig['responses'] = {};
    for (const [status, response] of Object.entries(spec.responses)) {
      const alternatives = Object.fromEntries(Object.entries(response.alternatives ?? {}).map(([type, description]) => [type, { schema: { type: 'string' as const, description } }]));
      responses[status] = response.schema
        ? { description: response.description, content: { 'application/json': { schema: response.schema }, ...alternatives } }
        : { description: response.description, ...(response.alternatives ? { content: alternatives } : {}) };
    }
    const errors = spec.scope ? { ...COMMON_ERRORS, ...(spec.body ? { 415: UNSUPPORTED_ENCODING } : {}), ...(spec.rateLimit ? { 429: RATE_LIMITED } : {}) } : { 500: COMMON_ERRORS[500]! };
    for (const [status, description] of Object.entries(errors)) {
      responses[status] ??= { description, content: { 'application/problem+json': { schema: problemSchema } } };
    }
    return {
      method: spec.method,
      path: openApiPath(spec.path),
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: spec.tags,
      ...(spec.scope ? { security: [{ bearerAuth: [] }], 'x-required-scope': spec.scope } : {}),
      request: {
        ...(spec.params ? { params: spec.params as never } : {}),
        ...(spec.query ? { query: spec.query as never } : {}),
        ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
      },
      responses,
    };
  }
}
