import { MAX_AMOUNT } from '../../engine/ledger';
import { MAX_API_IDEMPOTENCY_KEY_LENGTH } from '../accounts/idempotency-keys';
import { entrySchema } from '../accounts/schemas';
import { z } from '../zod';

/** Most items one bulk adjustment may hold. */
export const MAX_ADJUSTMENT_ITEMS = 1_000;

const itemSchema = z.strictObject({
  ownerId: z.string().min(1).max(200),
  unit: z.string().max(16).openapi({ example: 'CREDIT' }),
  direction: z.enum(['credit', 'debit']),
  amount: z.number().openapi({ type: 'integer', minimum: 1, maximum: MAX_AMOUNT, description: 'Minor units.' }),
  idempotencyKey: z.string().min(1).max(MAX_API_IDEMPOTENCY_KEY_LENGTH).openapi({ description: 'Unique within the request; the same namespace as POST /v1/accounts/{ownerId}/entries.' }),
  createIfMissing: z.boolean().default(false),
}).openapi('AdjustmentItem');

export const adjustmentsBodySchema = z.strictObject({
  comment: z.string().trim().min(1).max(1_000).openapi({ description: 'Why: shown on every entry, e.g. "Goodwill credit after the 21 Nov outage".' }),
  adminOverride: z.boolean().default(false).openapi({ description: 'Exempts every credit of the request from minCredit and maxBalance; needs the admin scope.' }),
  items: z.array(itemSchema).min(1).max(MAX_ADJUSTMENT_ITEMS).openapi({ description: `1 to ${MAX_ADJUSTMENT_ITEMS} postings.` }),
}).openapi('AdjustmentsRequest');

export const adjustmentsResultSchema = z.object({
  posted: z.number().int(),
  replayed: z.number().int(),
  refused: z.number().int(),
  items: z.array(z.object({
    index: z.number().int(),
    ownerId: z.string(),
    unit: z.string(),
    idempotencyKey: z.string(),
    status: z.enum(['posted', 'replayed', 'refused']),
    entry: entrySchema.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })),
}).openapi('AdjustmentsResult');
