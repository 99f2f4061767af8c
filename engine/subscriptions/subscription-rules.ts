import type { FieldProblem } from '../errors';
import { MAX_AMOUNT, UNIT_PATTERN } from '../ledger/limits';

/** The shortest and the longest period a plan may have, in days (one day to ten years and a bit). */
export const MIN_PERIOD_DAYS = 1;
export const MAX_PERIOD_DAYS = 3_660;

/** A subscription as an admin writes it (contract: api-v1.md, "Packages and subscriptions"). */
export interface SubscriptionDefinition {
  ownerId: string;
  plan: {
    name: string;
    /** What one period costs, in minor units of `unit` (whole credits for CREDIT); at least 1. */
    price: { amount: number; unit: string };
    periodDays: number;
  };
  /** When the paid period ends; a renewal debits the price and moves it on by periodDays. */
  currentPeriodEnd: Date;
  autoRenew: boolean;
}

export type SubscriptionProblem = FieldProblem & { code: 'price_invalid' | 'unit_invalid' | 'period_days_invalid' };

/** The problems of a definition whose JSON shape is right, each naming its field. */
export function subscriptionProblems(definition: SubscriptionDefinition): SubscriptionProblem[] {
  const problems: SubscriptionProblem[] = [];
  const { price, periodDays } = definition.plan;
  if (!Number.isSafeInteger(price.amount) || price.amount < 1 || price.amount > MAX_AMOUNT) {
    problems.push({ code: 'price_invalid', path: 'plan.price.amount', message: `must be an integer from 1 to ${MAX_AMOUNT} (minor units of plan.price.unit)` });
  }
  if (!UNIT_PATTERN.test(price.unit)) problems.push({ code: 'unit_invalid', path: 'plan.price.unit', message: 'must be an ISO 4217 code (e.g. USD) or CREDIT' });
  if (!Number.isSafeInteger(periodDays) || periodDays < MIN_PERIOD_DAYS || periodDays > MAX_PERIOD_DAYS) {
    problems.push({ code: 'period_days_invalid', path: 'plan.periodDays', message: `must be a whole number of days from ${MIN_PERIOD_DAYS} to ${MAX_PERIOD_DAYS}` });
  }
  return problems;
}

const DAY_MS = 86_400_000;

/** The end of the period after the one ending at `periodEnd`. */
export function nextPeriodEnd(periodEnd: Date, periodDays: number): Date {
  return new Date(periodEnd.getTime() + periodDays * DAY_MS);
}

/** The idempotency key of the debit renewing the period that ends at `periodEnd`: at most one per subscription and period. */
export function renewalKey(subscriptionId: string, periodEnd: Date): string {
  return `renew:${subscriptionId}:${periodEnd.toISOString()}`;
}
