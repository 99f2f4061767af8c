import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

// Amounts, units and periods are checked by engine/subscriptions, so the
// API answers with its domain codes (price_invalid, unit_invalid,
// period_days_invalid, owner_unknown) naming the field.

export const subscriptionParamsSchema = z.object({
  subscriptionId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be letters, digits, ".", "_" or "-" (1-100), starting with a letter or digit').openapi({ example: 'sub_ada_pro' }),
});

const planSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).openapi({ example: 'Pro membership' }),
  price: z.strictObject({
    amount: z.number().openapi({ type: 'integer', minimum: 1, description: 'What one period costs, in minor units of `unit` (whole credits for CREDIT).', example: 30 }),
    unit: z.string().min(1).max(16).openapi({ description: 'The account unit debited: ISO 4217 or CREDIT.', example: 'CREDIT' }),
  }),
  periodDays: z.number().openapi({ type: 'integer', minimum: 1, maximum: 3660, description: 'Length of one period in days (1-3660; 422 `period_days_invalid` outside).', example: 30 }),
}).openapi('SubscriptionPlan');

export const putSubscriptionBodySchema = z.strictObject({
  ownerId: z.string().min(1).max(200).openapi({ description: 'The customer billed; must have a customer profile (422 `owner_unknown` otherwise).', example: 'user_42' }),
  plan: planSchema,
  currentPeriodEnd: z.iso.datetime({ offset: true }).openapi({ description: 'When the paid period ends (ISO 8601).', example: '2026-12-31T00:00:00Z' }),
  autoRenew: z.boolean().openapi({ description: 'Renewals debit the price and extend the period only while this is true.' }),
}).openapi('SubscriptionInput');

export const subscriptionSchema = z.object({
  id: z.string(),
  ownerId: z.string(),
  plan: z.object({ name: z.string(), price: z.object({ amount: z.number().int(), unit: z.string() }), periodDays: z.number().int() }),
  currentPeriodEnd: z.string().openapi({ description: 'The end of the period paid for: the one written, moved on by each renewal.' }),
  autoRenew: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Subscription');

export const subscriptionPageSchema = z.object({ items: z.array(subscriptionSchema), nextCursor: z.string().nullable() }).openapi('SubscriptionPage');

export const subscriptionsQuerySchema = pageQuerySchema.extend({
  ownerId: z.string().min(1).max(200).optional().openapi({ description: 'Only this owner\'s subscriptions.' }),
});

export const renewalSchema = z.object({
  periodEnd: z.string().openapi({ description: 'The end of the period this outcome is about.' }),
  outcome: z.enum(['renewed', 'refused']),
  newPeriodEnd: z.string().optional().openapi({ description: 'On a renewal: the period end it extended to.' }),
  entryId: z.string().optional().openapi({ description: 'On a renewal: the ledger entry of its debit (key `renew:<subscriptionId>:<periodEnd>`).' }),
  amount: z.number().int(),
  unit: z.string(),
  code: z.string().optional().openapi({ description: 'On a refusal: the ledger\'s code (`insufficient_funds`, `negative_too_long`, `account_not_found`).' }),
  at: z.string(),
}).openapi('SubscriptionRenewal');

export const renewalListSchema = z.object({ items: z.array(renewalSchema) }).openapi('SubscriptionRenewals');

export const renewNowBodySchema = z.strictObject({
  horizonDays: z.number().int().min(0).max(3660).default(0).openapi({ description: 'Renew when the period ends within this many days from now (0: only a period that has ended).' }),
}).openapi('RenewNowInput');

export const renewOutcomeSchema = z.object({
  outcome: z.enum(['renewed', 'refused', 'not_due', 'auto_renew_off']),
  periodEnd: z.string(),
  newPeriodEnd: z.string().optional(),
  entryId: z.string().optional(),
  replayed: z.boolean().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
}).openapi('RenewOutcome');
