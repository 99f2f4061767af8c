import { RATE_PATTERN } from '../../engine/packages/credit-rounding';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

// Amounts, units and currencies are checked by engine/packages, so the API
// answers with its domain codes (credits_must_be_positive, currency_unknown,
// unit_invalid, match_invalid) naming the field; these schemas fix the JSON
// types and sizes.

export const packageParamsSchema = z.object({
  packageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be letters, digits, ".", "_" or "-" (1-100), starting with a letter or digit').openapi({ example: 'topup-100' }),
});

const priceSchema = z.strictObject({
  amount: z.number().openapi({ type: 'integer', minimum: 0, description: 'What the package costs, in minor units of `currency` (cents for USD); 0: free.', example: 10000 }),
  currency: z.string().min(1).max(16).openapi({ description: 'An ISO 4217 currency this server knows, or CREDIT (after a currency switch). Unknown: 422 `currency_unknown`.', example: 'USD' }),
}).openapi('PackagePrice');

const creditsSchema = z.strictObject({
  amount: z.number().openapi({ type: 'integer', minimum: 1, description: 'What buying the package credits, in minor units of `unit` (whole credits for CREDIT). Zero or negative: 422 `credits_must_be_positive`.', example: 15000 }),
  unit: z.string().min(1).max(16).openapi({ description: 'The account unit credited: ISO 4217 or CREDIT.', example: 'USD' }),
}).openapi('PackageCredits');

export const putPackageBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(200).openapi({ example: '$100 buys $150' }),
  price: priceSchema,
  credits: creditsSchema,
  match: z.record(z.string(), z.unknown()).optional().openapi({ description: 'A MongoDB-style filter over the event (e.g. `{ "data.reservation.price_int": 10000 }`), under the trigger filter rules. Overlapping filters may be saved; a run whose event matches two active packages fails with `package_ambiguous`.', example: { 'data.reservation.price_int': 10000 } }),
  active: z.boolean().default(true).openapi({ description: 'Only active packages are matched.' }),
}).openapi('PackageInput');

export const packageSchema = z.object({
  id: z.string(),
  version: z.number().int(),
  name: z.string(),
  price: z.object({ amount: z.number().int(), currency: z.string() }),
  credits: z.object({ amount: z.number().int(), unit: z.string() }),
  match: z.record(z.string(), z.unknown()).nullable(),
  active: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string().openapi({ description: 'When this version was written.' }),
  createdBy: z.string().openapi({ description: 'Who wrote this version.' }),
}).openapi('Package');

export const packagePageSchema = z.object({ items: z.array(packageSchema), nextCursor: z.string().nullable() }).openapi('PackagePage');

export const packageVersionsSchema = z.object({ items: z.array(packageSchema) }).openapi('PackageVersions');

export const repriceBodySchema = z.strictObject({
  unit: z.string().min(1).max(16).openapi({ description: 'The unit prices move to: CREDIT, or an ISO 4217 currency this server knows.', example: 'CREDIT' }),
  rate: z.string().regex(RATE_PATTERN, 'must be a decimal such as 1 or 0.8 (up to 9 integer and 6 fraction digits)').refine((rate) => !/^0(\.0*)?$/.test(rate), 'must be above 0').default('1')
    .openapi({ description: 'Units of `unit` per major unit of a package\'s current currency (e.g. 1 credit per dollar), as a decimal string so it is exact.', example: '1' }),
}).openapi('RepriceInput');

const repricedSchema = z.object({
  id: z.string(), fromVersion: z.number().int(), version: z.number().int(),
  before: z.object({ amount: z.number().int(), currency: z.string() }),
  after: z.object({ amount: z.number().int(), currency: z.string() }),
});

export const repriceResultSchema = z.object({
  unit: z.string(),
  rate: z.string(),
  repriced: z.array(repricedSchema).openapi({ description: 'Packages given a new version priced in `unit`.' }),
  unchanged: z.array(z.string()).openapi({ description: 'Ids of packages already priced in `unit`.' }),
}).openapi('RepriceResult');

export const packagesQuerySchema = pageQuerySchema.extend({
  active: z.enum(['true', 'false']).optional().openapi({ description: 'Only active (true) or inactive (false) packages.' }),
});
