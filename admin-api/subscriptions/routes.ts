import type { RenewalOutcome, RenewalRecord, Subscription, SubscriptionStore } from '../../engine/subscriptions/subscription-store';
import type { RouteModule } from '../app';
import { renewalListSchema, renewNowBodySchema, renewOutcomeSchema, putSubscriptionBodySchema, subscriptionPageSchema, subscriptionParamsSchema, subscriptionSchema, subscriptionsQuerySchema } from './schemas';

const DAY_MS = 86_400_000;

function subscriptionView(subscription: Subscription) {
  return { ...subscription, currentPeriodEnd: subscription.currentPeriodEnd.toISOString(), createdAt: subscription.createdAt.toISOString(), updatedAt: subscription.updatedAt.toISOString() };
}

function renewalView(record: RenewalRecord) {
  return {
    periodEnd: record.periodEnd.toISOString(), outcome: record.outcome, amount: record.amount, unit: record.unit, at: record.at.toISOString(),
    ...(record.newPeriodEnd ? { newPeriodEnd: record.newPeriodEnd.toISOString() } : {}),
    ...(record.entryId ? { entryId: record.entryId } : {}),
    ...(record.code ? { code: record.code } : {}),
  };
}

function outcomeView(outcome: RenewalOutcome) {
  const { periodEnd, ...rest } = outcome;
  return { ...rest, periodEnd: periodEnd.toISOString(), ...('newPeriodEnd' in outcome ? { newPeriodEnd: outcome.newPeriodEnd.toISOString() } : {}) };
}

/**
 * Subscriptions (contract: api-v1.md, "Packages and subscriptions"). They
 * decide what is debited: writing them takes the `admin` scope, reading
 * them `accounts:read`.
 */
export function subscriptionRoutes(subscriptions: SubscriptionStore): RouteModule {
  return (routes) => {
    routes.add({
      method: 'put', path: '/v1/subscriptions/:subscriptionId', scope: 'admin', tags: ['Subscriptions'],
      summary: 'Create or replace a subscription',
      description: 'Writing `currentPeriodEnd` sets the period end renewals start from. The owner must have a customer profile: a subscription for an unknown owner is refused (422 `owner_unknown`), not created on first renewal.',
      params: subscriptionParamsSchema, body: putSubscriptionBodySchema,
      responses: { 201: { description: 'Created.', schema: subscriptionSchema }, 200: { description: 'Replaced.', schema: subscriptionSchema } },
      handler: async ({ params, body }) => {
        const { subscription, created } = await subscriptions.put(params.subscriptionId, { ...body, currentPeriodEnd: new Date(body.currentPeriodEnd) });
        return { status: created ? 201 : 200, body: subscriptionView(subscription) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/subscriptions', scope: 'accounts:read', tags: ['Subscriptions'],
      summary: 'List subscriptions by id',
      query: subscriptionsQuerySchema,
      responses: { 200: { description: 'One page of subscriptions.', schema: subscriptionPageSchema } },
      handler: async ({ query }) => {
        const page = await subscriptions.list({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}), ...(query.ownerId ? { ownerId: query.ownerId } : {}) });
        return { status: 200, body: { items: page.items.map(subscriptionView), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/subscriptions/:subscriptionId', scope: 'accounts:read', tags: ['Subscriptions'],
      summary: 'Get a subscription with its current period end',
      params: subscriptionParamsSchema,
      responses: { 200: { description: 'The subscription.', schema: subscriptionSchema }, 404: { description: 'No such subscription.' } },
      handler: async ({ params }) => ({ status: 200, body: subscriptionView(await subscriptions.get(params.subscriptionId)) }),
    });
    routes.add({
      method: 'get', path: '/v1/subscriptions/:subscriptionId/renewals', scope: 'accounts:read', tags: ['Subscriptions'],
      summary: 'The outcomes of renewing a subscription, oldest period first',
      description: 'One `renewed` per period paid for (with its ledger entry and the new period end), and the first `refused` of each period the balance did not cover.',
      params: subscriptionParamsSchema,
      responses: { 200: { description: 'The outcomes.', schema: renewalListSchema }, 404: { description: 'No such subscription.' } },
      handler: async ({ params }) => ({ status: 200, body: { items: (await subscriptions.renewals(params.subscriptionId)).map(renewalView) } }),
    });
    routes.add({
      method: 'post', path: '/v1/subscriptions/:subscriptionId/renew', scope: 'admin', tags: ['Subscriptions'],
      summary: 'Renew a subscription now, if its period ends within the horizon',
      description: 'Debits the plan price once for the current period (ledger key `renew:<subscriptionId>:<periodEnd>`) and extends the period by `periodDays`; a retry renews nothing twice. A balance that does not cover it is `refused` with the ledger\'s code and changes nothing.',
      params: subscriptionParamsSchema, body: renewNowBodySchema,
      responses: { 200: { description: 'What the attempt did.', schema: renewOutcomeSchema }, 404: { description: 'No such subscription.' } },
      handler: async ({ params, body }) => ({ status: 200, body: outcomeView(await subscriptions.renew(params.subscriptionId, { horizonMs: body.horizonDays * DAY_MS })) }),
    });
  };
}
