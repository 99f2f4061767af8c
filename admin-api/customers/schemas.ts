import { MAX_AMOUNT } from '../../engine/ledger';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

// Amounts, units and policy values are checked by engine/customers, so the
// API answers with its domain codes (opening_balance_invalid,
// min_credit_invalid, unit_invalid) naming the field; these schemas fix the
// JSON types and sizes.

const minorUnits = z.number().openapi({ type: 'integer', description: 'Integer, in minor units of the unit it is keyed by.' });
const unitKey = z.string().max(16);

export const groupParamsSchema = z.object({
  groupId: z.string().min(1).max(100).openapi({ example: 'new-agents', description: 'Letters, digits, ".", "_" or "-" (1-100), starting with a letter or digit.' }),
});

export const ownerParamsSchema = z.object({
  ownerId: z.string().min(1).max(200).openapi({ example: 'user_42' }),
});

const unitPolicySchema = z.strictObject({
  minBalance: minorUnits.optional().openapi({ description: 'Lowest balance a debit may leave; negative allows debt down to it.' }),
  maxNegativeDays: z.number().optional().openapi({ type: 'integer', description: 'Refuse debits once the balance has been negative this many days (0-3650).' }),
  maxBalance: minorUnits.optional().openapi({ description: 'Refuse a credit that would take the balance above this (`balance_limit`).' }),
  minCredit: minorUnits.optional().openapi({ description: 'Refuse credits smaller than this from the API or triggers (`credit_too_small`); at least 1.' }),
}).openapi('GroupUnitPolicy');

export const putGroupBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(200).openapi({ example: 'New agents' }),
  openingBalance: z.record(unitKey, minorUnits).optional().openapi({ description: 'Per unit: credited once to each customer the first time it is in a group with an opening balance (key `opening:<unit>:<ownerId>`). 1 to 10^12 minor units.', example: { CREDIT: 10 } }),
  policy: z.record(unitKey, unitPolicySchema).optional().openapi({ description: 'Per unit: the group\'s policy layer (account override > group > unit default).' }),
}).openapi('GroupInput');

export const groupSchema = z.object({
  id: z.string(),
  name: z.string(),
  openingBalance: z.record(z.string(), z.number().int()),
  policy: z.record(z.string(), unitPolicySchema),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Group');

export const groupPageSchema = z.object({ items: z.array(groupSchema), nextCursor: z.string().nullable() }).openapi('GroupPage');

const autoTopUpSchema = z.strictObject({
  enabled: z.boolean(),
  threshold: z.number().int().openapi({ description: 'Top up when the balance is at or below this (minor units of `unit`).' }),
  amount: minorUnits.openapi({ minimum: 1, maximum: MAX_AMOUNT, description: 'How much one top-up credits (minor units of `unit`).' }),
  unit: unitKey,
}).openapi('AutoTopUp');

export const putCustomerBodySchema = z.strictObject({
  email: z.string().trim().email().max(320).optional(),
  name: z.string().trim().min(1).max(200).optional(),
  groupId: z.string().min(1).max(100).optional().openapi({ description: 'The customer\'s group: its policy layer applies to the customer\'s accounts, and its opening balance is granted the first time the customer is in a group that has one. Unknown: 422 group_not_found.' }),
  attributes: z.record(z.string().max(100), z.unknown()).optional().openapi({ description: 'Free-form JSON for triggers (`when` on `customer.attributes.*`); at most 100 top-level keys and 16 KB.' })
    .refine((value) => value === undefined || Object.keys(value).length <= 100, 'must hold at most 100 keys')
    .refine((value) => value === undefined || JSON.stringify(value).length <= 16_384, 'must be at most 16 KB as JSON'),
  autoTopUp: autoTopUpSchema.optional(),
}).openapi('CustomerInput');

export const customerSchema = z.object({
  ownerId: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  groupId: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  autoTopUp: autoTopUpSchema.nullable(),
  openingBalance: z.object({ groupId: z.string(), amounts: z.record(z.string(), z.number().int()) }).nullable().openapi({ description: 'The opening balance this customer was granted, and the group it came from; null: none (yet).' }),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Customer');

export const customerPageSchema = z.object({ items: z.array(customerSchema.omit({ openingBalance: true })), nextCursor: z.string().nullable() }).openapi('CustomerPage');

export const customersQuerySchema = pageQuerySchema.extend({
  groupId: z.string().min(1).max(100).optional().openapi({ description: 'Only the customers of this group.' }),
});
