import { DomainError, isDomainError } from '../../engine/errors';
import type { Ledger, PostRequest } from '../../engine/ledger';
import { assertPostable } from '../../engine/ledger/limits';
import type { RouteModule } from '../app';
import { inClientTerms, storedApiKey } from '../accounts/idempotency-keys';
import { assertOverrideAllowed } from '../accounts/routes';
import { entryView } from '../accounts/views';
import { adjustmentsBodySchema, adjustmentsResultSchema, MAX_ADJUSTMENT_ITEMS } from './schemas';

/** Items of one request posted at once; one account's items still post one at a time, in item order (the ledger queues them). */
const CONCURRENT_POSTINGS = 16;

interface ItemResult {
  index: number;
  ownerId: string;
  unit: string;
  idempotencyKey: string;
  status: 'posted' | 'replayed' | 'refused';
  entry?: ReturnType<typeof entryView>;
  error?: { code: string; message: string };
}

/** Items' paths in a refusal of the whole request: `items.3.amount`. */
function atItem(error: DomainError, index: number): DomainError {
  return new DomainError(error.code, error.kind, `items.${index}: ${error.message}`, error.errors.map((problem) => ({ path: `items.${index}.${problem.path}`, message: problem.message })));
}

function duplicateKeys(keys: readonly string[]): DomainError | undefined {
  const seen = new Map<string, number>();
  for (const [index, key] of keys.entries()) {
    const first = seen.get(key);
    if (first !== undefined) return new DomainError('duplicate_idempotency_key', 'invalid', `items.${index}.idempotencyKey repeats items.${first}.idempotencyKey ("${key}"); each item needs its own key.`, [{ path: `items.${index}.idempotencyKey`, message: `repeats items.${first}.idempotencyKey` }]);
    seen.set(key, index);
  }
  return undefined;
}

/** Runs `work` over the items with at most `limit` in flight, starting them in order. */
async function inOrderWithLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index]!, index);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * Bulk adjustments (contract: api-v1.md, "Customers and groups"): up to
 * 1,000 admin postings with one comment. The request is checked whole first
 * (shape, limits, repeated keys): a bad one is 422 with nothing posted. Then
 * each item is an independent posting, exactly as POST
 * /v1/accounts/{ownerId}/entries would make it (the same key namespace, so
 * retrying the request replays every item that was posted); one item's
 * refusal does not stop the others, and the per-item results say which were
 * posted.
 */
export function adjustmentRoutes(deps: { ledger: Ledger }): RouteModule {
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/adjustments', scope: 'accounts:write', tags: ['Accounts'],
      summary: 'Post up to 1,000 admin adjustments at once',
      description: `Each item is posted like a single POST /v1/accounts/{ownerId}/entries under its own idempotencyKey, with the request's comment. At most ${MAX_ADJUSTMENT_ITEMS} items (more: 422 naming \`items\`); keys repeated within the request: 422; in both cases nothing is posted. Otherwise 200 with one result per item, in order: \`posted\`, \`replayed\` (the key was posted before with the same body) or \`refused\` with the code (insufficient_funds, account_not_found, idempotency_conflict, ...). Retrying the whole request is safe.`,
      body: adjustmentsBodySchema,
      responses: { 200: { description: 'One result per item.', schema: adjustmentsResultSchema } },
      handler: async ({ body, principal }) => {
        assertOverrideAllowed(body.adminOverride, principal);
        const requests: PostRequest[] = body.items.map((item) => ({
          ownerId: item.ownerId, unit: item.unit, direction: item.direction, amount: item.amount,
          idempotencyKey: storedApiKey(item.idempotencyKey), createIfMissing: item.createIfMissing, comment: body.comment,
          source: { kind: 'api', keyId: principal?.keyId ?? 'unknown', ...(body.adminOverride ? { adminOverride: true as const } : {}) },
          ...(body.adminOverride ? { adminOverride: true } : {}),
        }));
        for (const [index, request] of requests.entries()) {
          try {
            assertPostable(request);
          } catch (error) {
            throw isDomainError(error) ? atItem(error, index) : error;
          }
        }
        const repeated = duplicateKeys(body.items.map((item) => item.idempotencyKey));
        if (repeated) throw repeated;
        const results = await inOrderWithLimit(requests, CONCURRENT_POSTINGS, async (request, index): Promise<ItemResult> => {
          const item = body.items[index]!;
          const base = { index, ownerId: item.ownerId, unit: item.unit, idempotencyKey: item.idempotencyKey };
          try {
            const result = await deps.ledger.post(request);
            return { ...base, status: result.replayed ? 'replayed' : 'posted', entry: entryView(result.entry) };
          } catch (error) {
            const told = inClientTerms(error, item.idempotencyKey);
            // Only expected refusals are per item; anything else (the store is down) fails the request, and a retry replays what was posted.
            if (!isDomainError(told) || told.kind === 'unavailable') throw told;
            return { ...base, status: 'refused', error: { code: told.code, message: told.message } };
          }
        });
        const count = (status: ItemResult['status']) => results.filter((r) => r.status === status).length;
        return { status: 200, body: { posted: count('posted'), replayed: count('replayed'), refused: count('refused'), items: results } };
      },
    });
  };
}
