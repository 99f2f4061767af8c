import { Validator } from '@seriousme/openapi-schema-validator';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import pino from 'pino';
import { buildApi } from '../../admin-api/server';
import { buildOpenApiDocument } from '../../admin-api/openapi';
import { loadConfig } from '../../engine/config';

// Building the app opens nothing: models are defined on an unopened
// connection and the Temporal connection is lazy.
const api = buildApi({
  config: loadConfig({ ADMIN_API_KEY: 'unit-test-admin-key-0123' }),
  logger: pino({ level: 'silent' }),
  store: mongoose.createConnection(),
  temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
  sandbox: { checkSyntax: () => null, run: () => Promise.reject(new Error('not used')) },
});
const document = buildOpenApiDocument(api.routes);

interface Layer { route?: { path: string; methods: Record<string, boolean> } }

function expressRoutes(): string[] {
  const stack = (api.routes.router as unknown as { stack: Layer[] }).stack;
  return stack.filter((layer) => layer.route).flatMap((layer) => Object.keys(layer.route!.methods).map((method) => `${method} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`));
}

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(JSON.parse(JSON.stringify(document)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('is OpenAPI 3.1 with the bearer scheme', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.components?.securitySchemes?.bearerAuth).toEqual({ type: 'http', scheme: 'bearer' });
  });

  it('describes every route the app registers, and nothing else', () => {
    const documented = Object.entries(document.paths ?? {}).flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method} ${path}`));
    expect(expressRoutes().length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual(expressRoutes().sort());
  });

  it('requires the bearer key on every /v1 route and names its scope', () => {
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const operation of Object.values(item as Record<string, { security?: unknown; 'x-required-scope'?: string; responses: Record<string, unknown> }>)) {
        if (!path.startsWith('/v1/')) continue;
        expect(operation.security).toEqual([{ bearerAuth: [] }]);
        expect(operation['x-required-scope']).toMatch(/^(admin|events:write|accounts:read|accounts:write)$/);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403', '422', '500']));
      }
    }
  });

  it('documents the event contract fields', () => {
    const schema = (document.components?.schemas?.EventInput ?? {}) as { properties?: Record<string, unknown>; required?: string[] };
    expect(Object.keys(schema.properties ?? {})).toEqual(['id', 'type', 'occurredAt', 'data']);
    expect(schema.required).toEqual(['id', 'type', 'data']);
  });
});

describe('the dry-run request bodies', () => {
  type Schema = { $ref?: string; allOf?: Schema[]; properties?: Record<string, Schema>; required?: string[]; additionalProperties?: unknown };
  const resolve = (schema: Schema): Schema => (schema.$ref ? (document.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')] as Schema) : schema);

  it.each(['/v1/triggers/dry-run', '/v1/triggers/{id}/dry-run'])('%s accepts a real event: a closed object, no allOf of closed schemas, id optional', (path) => {
    const body = resolve((document.paths?.[path]?.post?.requestBody as { content: Record<string, { schema: Schema }> }).content['application/json']!.schema);
    const event = resolve(body.properties?.event ?? {});
    expect(JSON.stringify([body, event])).not.toContain('allOf');
    expect(Object.keys(event.properties ?? {}).sort()).toEqual(['data', 'id', 'occurredAt', 'type']);
    expect(event.required?.sort()).toEqual(['data', 'type']);
  });

  it('documents 415 on routes that take a JSON body, and only there', () => {
    expect(document.paths?.['/v1/triggers/dry-run']?.post?.responses).toHaveProperty('415');
    expect(document.paths?.['/v1/triggers']?.get?.responses).not.toHaveProperty('415');
  });
});
