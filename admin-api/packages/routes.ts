import type { PackageRecord, PackageStore } from '../../engine/packages/package-store';
import type { RouteModule } from '../app';
import { packagePageSchema, packageParamsSchema, packageSchema, packagesQuerySchema, packageVersionsSchema, putPackageBodySchema } from './schemas';

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
