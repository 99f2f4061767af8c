import { triggerDefinitionSchema } from '../../engine/triggers/trigger-schema';
import type { TriggerStore } from '../../engine/triggers/trigger-store';
import { validateTrigger, type TriggerCheckers } from '../../engine/triggers/validate';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const definitionSchema = triggerDefinitionSchema.openapi('TriggerInput');
const triggerSchema = z
  .object({ id: z.string(), version: z.number().int(), createdAt: z.string(), updatedAt: z.string() })
  .catchall(z.unknown())
  .openapi('Trigger', { description: 'The trigger definition as saved (defaults filled in), with its id and current version.' });
const idParams = z.object({ id: z.string().min(1).max(100) });
const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

function present<T extends { createdAt: Date; updatedAt: Date }>(record: T) {
  return { ...record, createdAt: record.createdAt.toISOString(), updatedAt: record.updatedAt.toISOString() };
}

/** Trigger authoring: every change is a new immutable version. */
export function triggerRoutes(store: TriggerStore, checkers: TriggerCheckers): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/triggers', scope: 'admin', tags: ['triggers'],
      summary: 'Create a trigger (version 1)',
      body: definitionSchema,
      responses: { 201: { description: 'Created.', schema: triggerSchema } },
      handler: async ({ body, principal }) => ({ status: 201, body: present(await store.create(await validateTrigger(body, checkers), principal!.keyId)) }),
    });
    routes.add({
      method: 'get', path: '/v1/triggers', scope: 'admin', tags: ['triggers'],
      summary: 'List triggers, newest first',
      query: pageQuerySchema.extend({ enabled: booleanQuery.optional() }),
      responses: { 200: { description: 'A page of triggers.', schema: z.object({ items: z.array(triggerSchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => {
        const page = await store.list(query);
        return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'One trigger at its current version',
      params: idParams,
      responses: { 200: { description: 'The trigger.', schema: triggerSchema }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await store.get(params.id)) }),
    });
    routes.add({
      method: 'put', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'Replace a trigger (a new version)',
      description: 'Runs already started keep the version they matched. Send `If-Match: <version>` to refuse the change when someone else saved first.',
      params: idParams,
      body: definitionSchema,
      responses: { 200: { description: 'The new version.', schema: triggerSchema }, 404: { description: 'No such trigger.' }, 409: { description: 'The trigger changed meanwhile.' } },
      handler: async ({ params, body, principal, req }) => {
        const ifMatch = req.get('if-match');
        const expected = ifMatch !== undefined && /^"?\d+"?$/.test(ifMatch) ? Number(ifMatch.replace(/"/g, '')) : undefined;
        return { status: 200, body: present(await store.update(params.id, await validateTrigger(body, checkers), principal!.keyId, expected)) };
      },
    });
    routes.add({
      method: 'delete', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'Delete a trigger',
      description: 'It stops matching events at once; runs in flight finish with their version; versions stay readable for those runs.',
      params: idParams,
      responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => {
        await store.remove(params.id);
        return { status: 204 };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id/versions', scope: 'admin', tags: ['triggers'],
      summary: 'Every version of a trigger, newest first',
      params: idParams,
      responses: { 200: { description: 'The versions.', schema: z.object({ items: z.array(z.object({ version: z.number().int(), createdAt: z.string(), createdBy: z.string(), definition: z.unknown() })) }) }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => {
        const versions = await store.versions(params.id);
        return { status: 200, body: { items: versions.map((v) => ({ ...v, createdAt: v.createdAt.toISOString() })) } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id/versions/:version', scope: 'admin', tags: ['triggers'],
      summary: 'One version of a trigger',
      params: idParams.extend({ version: z.coerce.number().int().min(1) }),
      responses: { 200: { description: 'The version.', schema: triggerSchema }, 404: { description: 'No such trigger or version.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await store.version(params.id, params.version)) }),
    });
  };
}
