import type { RouteModule } from '../app';
import { SCOPES } from '../auth';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';
import type { ApiKeyRecord, ApiKeyStore } from './key-store';

const createKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).openapi({ example: 'Booking system (production)' }),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length)
      .refine((scopes) => new Set(scopes).size === scopes.length, 'must not repeat a scope')
      .openapi({ example: ['events:write'] }),
    signing: z.boolean().default(false).openapi({ description: 'Also issue a signing secret; every request made with the key must then carry a valid Creditflow-Signature.' }),
    ownerId: z.string().min(1).max(200).optional().openapi({ description: 'An owner-scoped key, e.g. for a customer portal: it reads only this owner\'s accounts and entries (and customer profile); another owner\'s are 404, every other route 403. Its scopes must be exactly ["accounts:read"].', example: 'user_42' }),
  })
  .refine((input) => input.ownerId === undefined || (input.scopes.length === 1 && input.scopes[0] === 'accounts:read'), { path: ['scopes'], message: 'an owner-scoped key (ownerId) reads only: its scopes must be exactly ["accounts:read"]' })
  .openapi('ApiKeyInput');

const apiKeySchema = z
  .object({
    id: z.string(), name: z.string(), scopes: z.array(z.enum(SCOPES)),
    prefix: z.string().openapi({ description: 'The visible start of the secret, to tell keys apart.' }),
    signing: z.boolean(), ownerId: z.string().nullable().openapi({ description: 'Set on owner-scoped keys.' }), createdAt: z.string(), createdBy: z.string(),
    lastUsedAt: z.string().nullable().openapi({ description: 'Refreshed at most once a minute.' }),
    revokedAt: z.string().nullable(), revokedBy: z.string().nullable(),
  })
  .openapi('ApiKey');

const createdKeySchema = apiKeySchema
  .extend({
    secret: z.string().openapi({ description: 'The bearer secret. Shown only in this response.' }),
    signingSecret: z.string().optional().openapi({ description: 'The HMAC key for Creditflow-Signature, when `signing` was asked for. Shown only in this response.' }),
  })
  .openapi('ApiKeyCreated');

const idParams = z.object({ id: z.string().regex(/^key_[0-9a-f]{16}$/, 'must be an API key id (key_ and 16 hex digits)') });

function present(record: ApiKeyRecord) {
  return {
    ...record,
    createdAt: record.createdAt.toISOString(),
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
  };
}

/** API key management; admin only. Secrets are returned once, at creation. */
export function apiKeyRoutes(store: ApiKeyStore): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/api-keys', scope: 'admin', tags: ['api-keys'],
      summary: 'Create an API key',
      description: 'Returns the bearer secret (and the signing secret, with `signing: true`) once; the store keeps only a keyed hash of the one and a sealed copy of the other.',
      body: createKeySchema,
      responses: { 201: { description: 'Created; the secrets are in this response only.', schema: createdKeySchema } },
      handler: async ({ body, principal }) => {
        const created = await store.create(body, principal!.keyId);
        return { status: 201, body: { ...present(created.record), secret: created.secret, ...(created.signingSecret ? { signingSecret: created.signingSecret } : {}) } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/api-keys', scope: 'admin', tags: ['api-keys'],
      summary: 'List API keys, newest first',
      description: 'Revoked keys are listed too, with `revokedAt`. The bootstrap ADMIN_API_KEY is configuration, not a stored key, and is not listed.',
      query: pageQuerySchema,
      responses: { 200: { description: 'A page of keys, without secrets.', schema: z.object({ items: z.array(apiKeySchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => {
        const page = await store.list(query);
        return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/api-keys/:id', scope: 'admin', tags: ['api-keys'],
      summary: 'One API key, without secrets',
      params: idParams,
      responses: { 200: { description: 'The key.', schema: apiKeySchema }, 404: { description: 'No such key.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await store.get(params.id)) }),
    });
    routes.add({
      method: 'delete', path: '/v1/api-keys/:id', scope: 'admin', tags: ['api-keys'],
      summary: 'Revoke an API key',
      description: 'Every replica refuses the key from its next request on (keys are read from the store on each request). Revoking twice is harmless; the key stays listed with `revokedAt`.',
      params: idParams,
      responses: { 200: { description: 'Revoked.', schema: apiKeySchema }, 404: { description: 'No such key.' } },
      handler: async ({ params, principal }) => ({ status: 200, body: present(await store.revoke(params.id, principal!.keyId)) }),
    });
  };
}
