import { DomainError } from '../../engine/errors';
import { renderEmail } from '../../engine/mail/render';
import type { StoredTemplate, TemplateStore } from '../../engine/mail/template-store';
import type { TriggerStore } from '../../engine/triggers/trigger-store';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lowercase letters, digits and - (at most 64)');
const parts = {
  subject: z.string().min(1).max(998),
  text: z.string().min(1).max(100_000),
  html: z.string().min(1).max(200_000).optional(),
};
const templateSchema = z
  .object({ name: z.string(), source: z.enum(['stored', 'bundled']), subject: z.string(), text: z.string(), html: z.string().optional(), version: z.number().int().optional(), createdAt: z.string().optional(), updatedAt: z.string().optional() })
  .openapi('EmailTemplate');
const renderedSchema = z.object({ subject: z.string(), text: z.string(), html: z.string().optional() }).openapi('RenderedEmail');
const variables = z.record(z.string(), z.unknown()).default({});

function present(template: StoredTemplate) {
  return { ...template, ...(template.createdAt ? { createdAt: template.createdAt.toISOString() } : {}), ...(template.updatedAt ? { updatedAt: template.updatedAt.toISOString() } : {}) };
}

/** Email templates: handlebars compiled at save, previewed with sample variables. */
export function templateRoutes(store: TemplateStore, triggers: TriggerStore): RouteModule {
  return (routes) => {
    routes.add({
      method: 'get', path: '/v1/templates', scope: 'admin', tags: ['templates'],
      summary: 'List templates: shipped ones, then stored ones newest first',
      query: pageQuerySchema,
      responses: { 200: { description: 'A page of templates.', schema: z.object({ items: z.array(templateSchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => {
        const page = await store.list(query);
        return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'post', path: '/v1/templates', scope: 'admin', tags: ['templates'],
      summary: 'Create a template',
      body: z.strictObject({ name, ...parts }),
      responses: { 201: { description: 'Created.', schema: templateSchema }, 409: { description: 'The name is taken (or reserved by a shipped template).' } },
      handler: async ({ body }) => ({ status: 201, body: present(await store.create(body)) }),
    });
    routes.add({
      method: 'get', path: '/v1/templates/:name', scope: 'admin', tags: ['templates'],
      summary: 'One template',
      params: z.object({ name }),
      responses: { 200: { description: 'The template.', schema: templateSchema }, 404: { description: 'No such template.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await store.get(params.name)) }),
    });
    routes.add({
      method: 'put', path: '/v1/templates/:name', scope: 'admin', tags: ['templates'],
      summary: 'Replace a stored template',
      description: 'Runs that have not sent yet use the new text.',
      params: z.object({ name }),
      body: z.strictObject(parts),
      responses: { 200: { description: 'The new version.', schema: templateSchema }, 404: { description: 'No such template.' }, 409: { description: 'A shipped template cannot be changed.' } },
      handler: async ({ params, body }) => ({ status: 200, body: present(await store.replace({ name: params.name, ...body })) }),
    });
    routes.add({
      method: 'delete', path: '/v1/templates/:name', scope: 'admin', tags: ['templates'],
      summary: 'Delete a stored template that no trigger uses',
      params: z.object({ name }),
      responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such template.' }, 409: { description: 'A trigger still uses it, or it is shipped.' } },
      handler: async ({ params }) => {
        const users = await triggers.usingTemplate(params.name);
        if (users.length > 0) throw new DomainError('template_in_use', 'conflict', `Triggers ${users.join(', ')} send this template; change them first.`);
        await store.remove(params.name);
        return { status: 204 };
      },
    });
    routes.add({
      method: 'post', path: '/v1/templates/:name/preview', scope: 'admin', tags: ['templates'],
      summary: 'Render a template with sample variables',
      params: z.object({ name }),
      body: z.strictObject({ variables }),
      responses: { 200: { description: 'The rendered email.', schema: renderedSchema }, 404: { description: 'No such template.' } },
      handler: async ({ params, body }) => ({ status: 200, body: renderEmail(await store.get(params.name), body.variables) }),
    });
    routes.add({
      method: 'post', path: '/v1/templates/preview', scope: 'admin', tags: ['templates'],
      summary: 'Render unsaved template text with sample variables',
      body: z.strictObject({ ...parts, variables }),
      responses: { 200: { description: 'The rendered email.', schema: renderedSchema } },
      handler: async ({ body }) => {
        const { variables: sample, ...sources } = body;
        return { status: 200, body: renderEmail(sources, sample) };
      },
    });
  };
}
