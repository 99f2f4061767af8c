import { MAX_AMOUNT } from '../../engine/ledger/limits';
import { MAX_RECORD_VERSION, RECORD_ID_PATTERN, RECORD_KIND_PATTERN, RECORD_STATE_PATTERN } from '../../engine/records/record-store';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

// Patterns and bounds come from engine/records, which enforces them for the
// `record` task too; these schemas fix the JSON shape and feed OpenAPI.

const kindSchema = z.string().regex(RECORD_KIND_PATTERN, 'must be lowercase letters, digits, _ and - (1-64), starting with a letter').openapi({ example: 'bill' });
const stateSchema = z.string().regex(RECORD_STATE_PATTERN, 'must be letters, digits, _ and - (1-64), starting with a letter').openapi({ example: 'unsettled' });

export const recordParamsSchema = z.object({
  kind: kindSchema,
  id: z.string().regex(RECORD_ID_PATTERN, 'must be letters, digits, ., _, :, @ and - (1-200), starting with a letter or digit').openapi({ example: 'B-1001' }),
});

export const putRecordBodySchema = z.strictObject({
  ownerId: z.string().min(1).max(200).optional().openapi({ description: 'The owner (customer) the object belongs to; sweeps show that customer\'s profile as `customer`.' }),
  state: stateSchema,
  amount: z.number().int().min(-MAX_AMOUNT).max(MAX_AMOUNT).optional().openapi({ description: 'Integer, minor units of `unit` (e.g. the amount a bill still owes).' }),
  unit: z.string().max(16).optional().openapi({ description: 'ISO 4217 code or CREDIT; required with `amount`.', example: 'EUR' }),
  attributes: z.record(z.string().max(100), z.unknown()).optional().openapi({ description: 'Free-form JSON (at most 16 KB), e.g. `{ "dueDate": "2026-12-20" }`; filters read it as `attributes.*`.' }),
  version: z.number().int().min(0).max(MAX_RECORD_VERSION).openapi({ description: 'The other system\'s version of the object (a revision counter or a timestamp in ms). Required: a lower version than the stored one is ignored (200, `stale: true`), so deliveries out of order never roll the record back; the same version with other content is 409.', example: 3 }),
}).openapi('RecordInput');

export const recordSchema = z.object({
  kind: z.string(),
  id: z.string(),
  ownerId: z.string().nullable(),
  state: z.string(),
  amount: z.number().int().nullable(),
  unit: z.string().nullable(),
  attributes: z.record(z.string(), z.unknown()),
  version: z.number().int(),
  updatedAt: z.string().openapi({ description: 'When this version was stored.' }),
}).openapi('Record');

export const putRecordResponseSchema = recordSchema.extend({
  stale: z.boolean().openapi({ description: 'True when the stored version was higher: nothing changed, and the body is the stored record.' }),
}).openapi('RecordPutResult');

export const recordPageSchema = z.object({ items: z.array(recordSchema), nextCursor: z.string().nullable() }).openapi('RecordPage');

export const recordsQuerySchema = pageQuerySchema.extend({
  kind: kindSchema.optional().openapi({ description: 'Only records of this kind.' }),
  state: stateSchema.optional().openapi({ description: 'Only records in this state.' }),
  ownerId: z.string().min(1).max(200).optional().openapi({ description: 'Only records of this owner.' }),
});
