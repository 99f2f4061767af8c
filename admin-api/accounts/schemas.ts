import { MAX_AMOUNT, MAX_NEGATIVE_DAYS } from '../../engine/ledger';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';
import { MAX_API_IDEMPOTENCY_KEY_LENGTH } from './idempotency-keys';

// Amounts and units are checked by the ledger, so the API answers with its
// domain codes (amount_must_be_positive_integer, unit_invalid) rather than a
// generic schema failure; the schemas below only fix the JSON types.

const unit = z.string().max(16).openapi({ description: 'ISO 4217 code (minor units) or CREDIT (whole credits).', example: 'USD' });
const minorUnits = z.number().openapi({ type: 'integer', description: 'Integer, in minor units of the account unit.' });

export const ownerParamsSchema = z.object({
  ownerId: z.string().min(1).max(200).openapi({ example: 'user_42' }),
});

export const unitQuerySchema = z.object({
  unit: unit.optional().openapi({ description: 'Default: the configured DEFAULT_UNIT.' }),
});

const instant = z.string().max(40).refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z');

export const entriesQuerySchema = unitQuerySchema.extend(pageQuerySchema.shape).extend({
  from: instant.optional().openapi({ description: 'Only entries posted at or after this time (ISO 8601).', example: '2026-11-01T00:00:00Z' }),
  to: instant.optional().openapi({ description: 'Only entries posted before this time (ISO 8601).', example: '2026-12-01T00:00:00Z' }),
});

export const accountsQuerySchema = pageQuerySchema.extend({
  ownerId: z.string().min(1).max(200).optional(),
  unit: unit.optional(),
  balanceGte: z.coerce.number().int().optional().openapi({ description: 'Only accounts with balance >= this (minor units).' }),
  balanceLte: z.coerce.number().int().optional().openapi({ description: 'Only accounts with balance <= this (minor units).' }),
});

export const postEntryBodySchema = z.strictObject({
  unit,
  direction: z.enum(['credit', 'debit']),
  amount: minorUnits.openapi({ minimum: 1, maximum: MAX_AMOUNT }),
  idempotencyKey: z.string().min(1).max(MAX_API_IDEMPOTENCY_KEY_LENGTH).openapi({ description: 'The same key and body again returns the original entry (200); a different body is 409. Keys of API clients have a namespace of their own: they never collide with the keys of trigger runs or transfers.' }),
  comment: z.string().max(1_000).optional().openapi({ description: 'Shown in the account history, e.g. why an administrator adjusted the balance.' }),
  createIfMissing: z.boolean().default(false).openapi({ description: 'Open the account on its first posting. Default false: 404 when it does not exist.' }),
  adminOverride: z.boolean().default(false).openapi({ description: 'Exempts a credit from the account\'s minCredit and maxBalance. Needs the admin scope (403 otherwise); debits keep every rule. Recorded on the entry\'s source.' }),
}).openapi('PostEntryRequest');

export const patchPolicyBodySchema = z.strictObject({
  minBalance: minorUnits.nullable().optional().openapi({ description: 'Lowest balance a debit may leave; negative allows debt. null: the unit default.' }),
  maxNegativeDays: z.number().int().min(0).max(MAX_NEGATIVE_DAYS).nullable().optional().openapi({ description: 'Refuse debits once the balance has been negative this many days. null: the unit default.' }),
  maxBalance: minorUnits.nullable().optional().openapi({ description: 'Highest balance a credit may leave (`balance_limit`). null: the group\'s value or the unit default.' }),
  minCredit: minorUnits.nullable().optional().openapi({ description: 'Smallest credit accepted (`credit_too_small`), at least 1. null: the group\'s value or the unit default.' }),
  createIfMissing: z.boolean().default(false),
}).openapi('PatchAccountPolicyRequest');

const policySchema = z.object({ minBalance: z.number().int(), maxNegativeDays: z.number().int().nullable(), maxBalance: z.number().int().nullable(), minCredit: z.number().int().nullable() });
const policyLayerName = z.enum(['account', 'group', 'default']);

export const accountSchema = z.object({
  ownerId: z.string(),
  unit: z.string(),
  balance: z.number().int(),
  seq: z.number().int().openapi({ description: 'The seq of the latest entry; 0 before the first posting.' }),
  policy: policySchema.openapi({ description: 'The policy in force.' }),
  policyOverrides: z.object({ minBalance: z.number().int().nullable(), maxNegativeDays: z.number().int().nullable(), maxBalance: z.number().int().nullable(), minCredit: z.number().int().nullable() }).openapi({ description: 'Values set on this account; null falls back to the customer group\'s value, then the unit default.' }),
  policySources: z.object({ minBalance: policyLayerName, maxNegativeDays: policyLayerName, maxBalance: policyLayerName, minCredit: policyLayerName }).openapi({ description: 'Which layer set each value of `policy`: the account\'s own override, the owner\'s customer group, or the unit default.' }),
  policyGroupId: z.string().nullable().openapi({ description: 'The customer group whose values are in `policy`, if any.' }),
  negativeSince: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Account');

export const entrySchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  direction: z.enum(['credit', 'debit']),
  amount: z.number().int(),
  balanceBefore: z.number().int(),
  balanceAfter: z.number().int(),
  idempotencyKey: z.string(),
  comment: z.string().optional(),
  source: z.object({
    kind: z.enum(['trigger', 'api', 'opening', 'subscription']).openapi({ description: '`trigger`: a run\'s task; `api`: a client (an admin adjustment); `opening`: a customer\'s opening balance, granted by its group (`groupId`); `subscription`: a renewal (`subscriptionId`, `periodEnd`).' }),
    triggerId: z.string().optional(),
    workflowId: z.string().optional(),
    taskId: z.string().optional(),
    eventId: z.string().optional(),
    keyId: z.string().optional(),
    adminOverride: z.boolean().optional().openapi({ description: 'On API entries posted with adminOverride: exempt from minCredit and maxBalance.' }),
    groupId: z.string().optional(),
    subscriptionId: z.string().optional(),
    periodEnd: z.string().optional().openapi({ description: 'On a renewal: the end of the period it paid for (ISO 8601).' }),
    depth: z.number().int().optional().openapi({ description: 'On a run\'s entries: the run\'s chain depth (0 for a run a client\'s event started); the balance change this entry causes starts runs one deeper.' }),
  }),
  transferId: z.string().optional().openapi({ description: 'Only on the entries of a transfer: the transfer they belong to. Its debit, credit and reversal carry the idempotency keys `<transferId>:debit`, `:credit` and `:reversal`.' }),
  transferLeg: z.enum(['debit', 'credit', 'reversal']).optional().openapi({ description: 'Which half of the transfer this entry is: the debit of the sending account, the credit of the receiving one, or the reversal crediting the sender back when the credit was refused for good.' }),
  counterparty: z.object({ ownerId: z.string(), unit: z.string() }).optional().openapi({ description: 'Only on the entries of a transfer: the account on the other side (for a reversal, the account the value was meant for).' }),
  createdAt: z.string(),
}).openapi('LedgerEntry');

export const entryPageSchema = z.object({ items: z.array(entrySchema), nextCursor: z.string().nullable() }).openapi('LedgerEntryPage');
export const accountPageSchema = z.object({ items: z.array(accountSchema), nextCursor: z.string().nullable() }).openapi('AccountPage');
