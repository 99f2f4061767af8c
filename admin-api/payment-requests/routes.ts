import { PAYMENT_REQUEST_STATES, type PaymentRequests } from '../../engine/payments/payment-requests';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const stateSchema = z.enum(PAYMENT_REQUEST_STATES as [string, ...string[]]);

const paymentRequestSchema = z.object({
  id: z.string(),
  reference: z.string(),
  gateway: z.string(),
  ownerId: z.string(),
  amount: z.number().int().openapi({ description: 'Minor units of `unit`.' }),
  unit: z.string(),
  state: stateSchema.openapi({ description: '`pending` -> `under_processing` -> `succeeded` | `failed` | `expired`, driven by the gateway\'s events; a request past `expiresAt` without an outcome is `expired`.' }),
  reason: z.string().nullable().openapi({ description: 'Why it failed or expired: the gateway\'s reason, `gateway_timeout` or `expired`.' }),
  workflowId: z.string().openapi({ description: 'The run that created it.' }),
  createdAt: z.string(),
  expiresAt: z.string(),
  processingAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
}).openapi('PaymentRequest');

/** Payment requests that payment_request tasks created (contract: api-v1.md, "payment requests"); reads only. */
export function paymentRequestRoutes(requests: PaymentRequests): RouteModule {
  return (routes) => {
    routes.add({
      method: 'get', path: '/v1/payment-requests', scope: 'accounts:read', tags: ['Payment requests'],
      summary: 'List payment requests by id',
      description: 'Filters by `reference` (e.g. the bill), `state` and `ownerId`. A page reads at most 2,000 requests while filtering by state, so it may hold fewer than `limit` items with a `nextCursor` to go on from.',
      query: pageQuerySchema.extend({
        reference: z.string().min(1).max(200).optional(),
        state: stateSchema.optional(),
        ownerId: z.string().min(1).max(200).optional(),
      }),
      responses: { 200: { description: 'One page of payment requests.', schema: z.object({ items: z.array(paymentRequestSchema), nextCursor: z.string().nullable() }).openapi('PaymentRequestPage') } },
      handler: async ({ query }) => {
        const { limit, cursor, reference, state, ownerId } = query;
        return { status: 200, body: await requests.list({ reference, state: state as never, ownerId }, { limit, cursor }) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/payment-requests/:id', scope: 'accounts:read', tags: ['Payment requests'],
      summary: 'Get a payment request with its state',
      params: z.object({ id: z.string().min(1).max(100) }),
      responses: { 200: { description: 'The request.', schema: paymentRequestSchema }, 404: { description: 'No such request.' } },
      handler: async ({ params }) => ({ status: 200, body: await requests.get(params.id) }),
    });
  };
}
