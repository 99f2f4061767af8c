import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { DomainError } from '../engine/errors';

/** The scopes a key may hold; `admin` implies every other. */
export const SCOPES = ['admin', 'events:write', 'accounts:read', 'accounts:write'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling: the key's id (never its secret) and what it may do. */
export interface Principal {
  readonly keyId: string;
  readonly scopes: readonly Scope[];
  /**
   * Set on owner-scoped keys (a customer portal's): the one owner whose
   * accounts and entries the key may read. Such a key reaches only routes
   * that declare their owner parameter (RouteSpec.ownerParam).
   */
  readonly ownerId?: string;
}

/** What a resolver may need beyond the bearer secret: the request's signature and exact body bytes. */
export interface PresentedRequest {
  readonly signatureHeader: string | undefined;
  /** The body bytes as received (after content decoding); empty when the request had no JSON body. */
  readonly rawBody: Buffer;
  readonly nowMs: number;
  /** The request line a v2 signature covers: the method, and the path with its query string as sent. */
  readonly method: string;
  readonly path: string;
}

/**
 * Resolves a presented bearer secret to a principal, or null when unknown.
 * May throw a DomainError (401) with a precise code, e.g. a bad signature.
 */
export type KeyResolver = (secret: string, request: PresentedRequest) => Promise<Principal | null>;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Accepts the bootstrap ADMIN_API_KEY with every scope. Compared through
 * fixed-length digests in constant time so timing reveals nothing.
 */
export function adminKeyResolver(adminApiKey: string): KeyResolver {
  const expected = digest(adminApiKey);
  return async (secret) => (timingSafeEqual(digest(secret), expected) ? { keyId: 'env:ADMIN_API_KEY', scopes: ['admin'] } : null);
}

/** Tries each resolver in order; the first that knows the key wins. */
export function chainResolvers(...resolvers: KeyResolver[]): KeyResolver {
  return async (secret, request) => {
    for (const resolve of resolvers) {
      const principal = await resolve(secret, request);
      if (principal) return principal;
    }
    return null;
  };
}

/** Limits presented secrets so a huge header cannot cost a slow hash. */
const MAX_SECRET_LENGTH = 512;

const EMPTY_BODY = Buffer.alloc(0);

/** Requires `Authorization: Bearer <key>` (and a valid signature from keys that sign); sets `req.principal`. */
export function authenticate(resolve: KeyResolver): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const secret = match?.[1];
    if (!secret || secret.length > MAX_SECRET_LENGTH) {
      next(new DomainError('unauthorized', 'unauthorized', 'Send an API key as "Authorization: Bearer <key>".'));
      return;
    }
    let principal: Principal | null;
    try {
      principal = await resolve(secret, { signatureHeader: req.get('creditflow-signature'), rawBody: req.rawBody ?? EMPTY_BODY, nowMs: Date.now(), method: req.method, path: req.originalUrl });
    } catch (error) {
      next(error);
      return;
    }
    if (!principal) {
      next(new DomainError('unauthorized', 'unauthorized', 'The API key is unknown or revoked.'));
      return;
    }
    req.principal = principal;
    next();
  };
}

export function hasScope(principal: Principal | undefined, scope: Scope): boolean {
  return Boolean(principal && (principal.scopes.includes('admin') || principal.scopes.includes(scope)));
}

/** Refuses with 403 unless the caller's key holds the scope. */
export function requireScope(scope: Scope): RequestHandler {
  return (req: Request, _res, next) => {
    if (hasScope(req.principal, scope)) {
      next();
      return;
    }
    next(new DomainError('scope_missing', 'forbidden', `This API key lacks the "${scope}" scope.`));
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    /** The JSON body's bytes exactly as received, kept for signature checks. */
    rawBody?: Buffer;
  }
}

/**
 * Confines owner-scoped keys: on a route without an owner parameter they are
 * refused (403 `owner_scoped_key`); on one with it, another owner's id is
 * answered 404, exactly as an account that does not exist, so a portal key
 * cannot even learn which other owners exist. Other keys pass untouched.
 */
export function requireOwner(ownerParam: string | undefined): RequestHandler {
  return (req: Request, _res, next) => {
    const ownerId = req.principal?.ownerId;
    if (ownerId === undefined) {
      next();
      return;
    }
    if (ownerParam === undefined) {
      next(new DomainError('owner_scoped_key', 'forbidden', `This API key reads only the accounts of owner "${ownerId}".`));
      return;
    }
    if (req.params[ownerParam] !== ownerId) {
      next(new DomainError('account_not_found', 'not_found', `No account for owner "${String(req.params[ownerParam])}".`));
      return;
    }
    next();
  };
}
