import type { FieldProblem } from '../errors';
import { MAX_AMOUNT, UNIT_PATTERN } from '../ledger/limits';
import { filterProblem } from '../triggers/matcher';

/**
 * Currencies a price may be in: the ISO 4217 codes the runtime's ICU knows
 * (so "XYZ", which matches the ledger's unit pattern, is still refused), and
 * CREDIT, which is what a currency switch (reprice) turns prices into.
 */
const KNOWN_CURRENCIES: ReadonlySet<string> = new Set([...Intl.supportedValuesOf('currency'), 'CREDIT']);

export function isKnownCurrency(code: string): boolean {
  return KNOWN_CURRENCIES.has(code);
}

/** Letters, digits, ".", "_" or "-" (1-100), starting with a letter or digit: an id that is safe in a URL and an idempotency key. */
export const PACKAGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A credit package as an admin defines it: what the customer pays, and what the account is credited. */
export interface PackageDefinition {
  name: string;
  /** What the package costs, in minor units of `currency` (0: free). */
  price: { amount: number; currency: string };
  /** What buying it credits, in minor units of `unit` (whole credits for CREDIT); at least 1. */
  credits: { amount: number; unit: string };
  /** A filter over the event (`data.reservation.price_int`, ...); absent: every event of the trigger matches. */
  match?: Record<string, unknown>;
  /** Only active packages are matched; an inactive one keeps its versions for the runs that used them. */
  active: boolean;
}

/**
 * The problems of a definition whose JSON shape is right, each naming its
 * field: credits must be positive (`credits_must_be_positive`), a price
 * must be in a known currency, and `match` must compile under the trigger
 * filter rules. Overlapping `match` filters are allowed to save: a run that
 * matches two packages fails with `package_ambiguous`.
 */
/** A field problem with the domain rule it breaks. */
export type PackageProblem = FieldProblem & { code: 'credits_must_be_positive' | 'unit_invalid' | 'price_invalid' | 'currency_unknown' | 'match_invalid' };

export function packageProblems(definition: PackageDefinition): PackageProblem[] {
  const problems: PackageProblem[] = [];
  const { price, credits } = definition;
  if (!Number.isSafeInteger(credits.amount) || credits.amount < 1 || credits.amount > MAX_AMOUNT) {
    problems.push({ code: 'credits_must_be_positive', path: 'credits.amount', message: `must be an integer from 1 to ${MAX_AMOUNT} (minor units of credits.unit)` });
  }
  if (!UNIT_PATTERN.test(credits.unit)) problems.push({ code: 'unit_invalid', path: 'credits.unit', message: 'must be an ISO 4217 code (e.g. USD) or CREDIT' });
  if (!Number.isSafeInteger(price.amount) || price.amount < 0 || price.amount > MAX_AMOUNT) {
    problems.push({ code: 'price_invalid', path: 'price.amount', message: `must be an integer from 0 to ${MAX_AMOUNT} (minor units of price.currency)` });
  }
  if (!isKnownCurrency(price.currency)) problems.push({ code: 'currency_unknown', path: 'price.currency', message: `"${price.currency}" is no ISO 4217 currency this server knows (or CREDIT)` });
  if (definition.match !== undefined) {
    const problem = filterProblem(definition.match);
    if (problem) problems.push({ code: 'match_invalid', path: 'match', message: problem });
  }
  return problems;
}
