import type { ExternalRecord, RecordStore } from '../../engine/records/record-store';
import type { RouteModule } from '../app';
import { putRecordBodySchema, putRecordResponseSchema, recordPageSchema, recordParamsSchema, recordSchema, recordsQuerySchema } from './schemas';

/** Heads one list request reads at most while filtering; past it the page is cut short and `nextCursor` goes on. */
export const MAX_RECORDS_SCANNED_PER_PAGE = 2_000;

/**
 * Records of external objects (contract: api-v1.md, "Records of external
 * objects"). The billing system writes them with `events:write`, as it posts
 * its events; reads take `accounts:read`.
 */
export function recordRoutes(records: RecordStore): RouteModule {
  return (routes) => {
    routes.add({
      method: 'put', path: '/v1/records/:kind/:id', scope: 'events:write', tags: ['Records'],
      summary: 'Create or update a record of an external object',
      description: 'Versioned upsert: a `version` lower than the stored one is ignored (200 with `stale: true` and the stored record), so out-of-order deliveries never roll a record back; concurrent updates keep the highest version. The same version again with the same content is a replay (200); with other content 409 `record_version_conflict`.',
      params: recordParamsSchema, body: putRecordBodySchema,
      responses: {
        201: { description: 'Created.', schema: putRecordResponseSchema },
        200: { description: 'Updated, replayed, or ignored as stale (`stale: true`).', schema: putRecordResponseSchema },
        409: { description: 'The same version is stored with other content (`record_version_conflict`).' },
      },
      handler: async ({ params, body }) => {
        const outcome = await records.put(params.kind, params.id, body);
        return { status: outcome.created ? 201 : 200, body: { ...outcome.record, stale: outcome.stale } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/records', scope: 'accounts:read', tags: ['Records'],
      summary: 'List records by kind and id',
      description: `Filters by kind, state and owner, in kind/id order. A page reads at most ${MAX_RECORDS_SCANNED_PER_PAGE} records while filtering, so it may hold fewer than \`limit\` items with a \`nextCursor\` to go on from.`,
      query: recordsQuerySchema,
      responses: { 200: { description: 'One page of records.', schema: recordPageSchema } },
      handler: async ({ query }) => {
        const items: ExternalRecord[] = [];
        let scanned = 0;
        let position: string | null = null;
        let more = false;
        for await (const batch of records.batches({ kind: query.kind, batchSize: 200, afterId: query.cursor })) {
          for (const { position: at, record } of batch) {
            if (items.length === query.limit || scanned === MAX_RECORDS_SCANNED_PER_PAGE) {
              more = true;
              break;
            }
            scanned += 1;
            position = at;
            if (query.state !== undefined && record.state !== query.state) continue;
            if (query.ownerId !== undefined && record.ownerId !== query.ownerId) continue;
            items.push(record);
          }
          if (more) break;
        }
        return { status: 200, body: { items, nextCursor: more ? position : null } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/records/:kind/:id', scope: 'accounts:read', tags: ['Records'],
      summary: 'Get a record',
      params: recordParamsSchema,
      responses: { 200: { description: 'The record at its highest version.', schema: recordSchema }, 404: { description: 'No such record.' } },
      handler: async ({ params }) => ({ status: 200, body: await records.get(params.kind, params.id) }),
    });
  };
}
