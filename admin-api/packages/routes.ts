import { repricePackages, type PackageRecord, type PackageStore } from '../../engine/packages/package-store';
import type { RouteModule } from '../app';
import { packagePageSchema, packageParamsSchema, packageSchema, packagesQuerySchema, packageVersionsSchema, putPackageBodySchema, repriceBodySchema, repriceResultSchema } from './schemas';

function packageView(record: PackageRecord) {
  return { ...record, match: record.match ?? null, createdAt: record.createdAt.toISOString(), updatedAt: record.updatedAt.toISOString() };
}

/**
 * Credit packages (contract: api-v1.md, "Packages and subscriptions").
 * Writing them takes the `admin` scope (they decide what money buys);
 * reading them `accounts:read`.
 */
export function packageRoutes(packages: PackageStore): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/packages/reprice', scope: 'admin', tags: ['Packages'],
      summary: 'Switch every package\'s price to a new unit (the currency switch)',
      description: 'Each package not yet priced in `unit` gets a new version: its price converted at `rate` and rounded to whole units of `unit` (below 1 becomes 1, otherwise half up; a free package stays free). Packages already in `unit` are left alone, so a retry changes nothing. Runs in flight keep the versions they matched.',
      body: repriceBodySchema,
      responses: { 200: { description: 'What was repriced.', schema: repriceResultSchema } },
      handler: async ({ body, principal }) => {
        const result = await repricePackages(packages, body.unit, body.rate, principal!.keyId);
        return { status: 200, body: { unit: body.unit, rate: body.rate, ...result } };
      },
    });
    routes.add({
      method: 'put', path: '/v1/packages/:packageId', scope: 'admin', tags: ['Packages'],
      summary: 'Create a credit package or write its next version',
      description: 'Each change is a new immutable version; the same definition again writes nothing (200, same version). Runs credit the version that was current when their event matched (`amountFrom: "package"`), so an edit never changes what a run in flight credits.',
      params: packageParamsSchema, body: putPackageBodySchema,
      responses: { 201: { description: 'Created (version 1).', schema: packageSchema }, 200: { description: 'A new version, or unchanged.', schema: packageSchema }, 409: { description: 'Other requests kept changing the package; read it and retry.' } },
      handler: async ({ params, body, principal }) => {
        const { record, created } = await packages.put(params.packageId, body, principal!.keyId);
        return { status: created ? 201 : 200, body: packageView(record) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/packages', scope: 'accounts:read', tags: ['Packages'],
      summary: 'List credit packages by id, each at its current version',
      query: packagesQuerySchema,
      responses: { 200: { description: 'One page of packages.', schema: packagePageSchema } },
      handler: async ({ query }) => {
        const page = await packages.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}), ...(query.active ? { active: query.active === 'true' } : {}) });
        return { status: 200, body: { items: page.items.map(packageView), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/packages/:packageId', scope: 'accounts:read', tags: ['Packages'],
      summary: 'Get a credit package at its current version',
      params: packageParamsSchema,
      responses: { 200: { description: 'The package.', schema: packageSchema }, 404: { description: 'No such package.' } },
      handler: async ({ params }) => ({ status: 200, body: packageView(await packages.get(params.packageId)) }),
    });
    routes.add({
      method: 'get', path: '/v1/packages/:packageId/versions', scope: 'accounts:read', tags: ['Packages'],
      summary: 'Every version of a credit package, newest first',
      params: packageParamsSchema,
      responses: { 200: { description: 'The versions.', schema: packageVersionsSchema }, 404: { description: 'No such package.' } },
      handler: async ({ params }) => ({ status: 200, body: { items: (await packages.versions(params.packageId)).map(packageView) } }),
    });
  };
}
