import { Query } from 'mingo';
import type { AccountContext, CustomerContext, EventEnvelope } from '../../workflows/types';
import { jsonDepthExceeds } from '../json-depth';
import { filterRuleProblem } from './filter-rules';

/** Deepest nesting a filter (`on.filter`, a task's `when`) may have. */
export const MAX_FILTER_DEPTH = 12;

/**
 * Mingo time one event may spend on trigger filters, in milliseconds. Each
 * filter is bounded at save (filter-rules.ts), so this only bites when many
 * triggers listen to one type; the triggers left are recorded, not matched.
 */
export const MATCH_BUDGET_MS = 50;

/**
 * Compiles a MongoDB-style filter (`$eq`, `$in`, `$gte`, `$and`, ...) with
 * mingo, after the filter rules (filter-rules.ts). Throws with a sentence
 * for a broken rule, an unknown operator or a bad shape.
 */
export function compileFilter(filter: Record<string, unknown> | undefined): (event: EventEnvelope) => boolean {
  if (!filter) return () => true;
  if (jsonDepthExceeds(filter, MAX_FILTER_DEPTH)) throw new Error(`the filter is nested deeper than ${MAX_FILTER_DEPTH} levels`);
  const problem = filterRuleProblem(filter);
  if (problem) throw new Error(problem);
  if (Object.keys(filter).length === 0) return () => true;
  const query = new Query(filter);
  return (event) => query.test(event as unknown as Record<string, unknown>);
}

/** The filter's problem as a sentence, or null when it compiles and keeps the filter rules. */
export function filterProblem(filter: Record<string, unknown> | undefined): string | null {
  try {
    compileFilter(filter);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Why a trigger was not matched although it listens to the event's type. */
/** A field path or `$expr` operand that starts at the owner's `customer` or `account` (e.g. `customer.autoTopUp.threshold`, `$account.balance`). */
const OWNER_REFERENCE = /"\$?(?:customer|account)(?:\.|")/;

/** True when the filter reads the owner's `customer` or `account`, which are then matched beside the event. */
export function filterReadsOwner(filter: Record<string, unknown> | undefined): boolean {
  return filter !== undefined && OWNER_REFERENCE.test(JSON.stringify(filter));
}

/**
 * What a trigger's filter is matched against: the event, and beside it
 * (for filters that read them) the profile and account of the owner it
 * names, as the run's context will hold them.
 */
export function matchSubject(event: EventEnvelope, owner: { customer?: CustomerContext; account?: AccountContext }): EventEnvelope {
  return { ...event, ...(owner.customer ? { customer: owner.customer } : {}), ...(owner.account ? { account: owner.account } : {}) };
}

export interface FilterError {
  triggerId: string;
  /** `filter_failed`: the filter threw (bad data for `$toInt`, division by zero, a filter refused by today's rules). `match_budget_exceeded`: not evaluated. */
  code: 'filter_failed' | 'match_budget_exceeded';
  message: string;
}

type Outcome = { matched: boolean } | { error: string };

/**
 * Compiled filters by trigger id and version. Versions are immutable, so an
 * entry never goes stale; the map is bounded by evicting the oldest entry.
 */
export class FilterCache {
  private readonly compiled = new Map<string, (event: EventEnvelope) => boolean>();
  constructor(private readonly maxEntries = 1_000) {}

  /** Tests the event; a filter that fails to compile or throws is an error, never an exception. */
  test(triggerId: string, version: number, filter: Record<string, unknown> | undefined, event: EventEnvelope): Outcome {
    try {
      return { matched: this.compiledFor(triggerId, version, filter)(event) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  private compiledFor(triggerId: string, version: number, filter: Record<string, unknown> | undefined): (event: EventEnvelope) => boolean {
    const key = `${triggerId}@${version}`;
    let test = this.compiled.get(key);
    if (!test) {
      try {
        test = compileFilter(filter);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        test = () => { throw new Error(message); };
      }
      if (this.compiled.size >= this.maxEntries) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, test);
    }
    return test;
  }
}

interface Matchable {
  id: string;
  version: number;
  on: { filter?: Record<string, unknown> };
}

/**
 * Tests one event against triggers in order. A filter that throws counts as
 * no match for its trigger only and is reported; once MATCH_BUDGET_MS of
 * matching has passed (measured between triggers), the triggers left are
 * reported as `match_budget_exceeded` without being evaluated.
 */
export function matchTriggers<T extends Matchable>(
  triggers: readonly T[],
  event: EventEnvelope,
  cache: FilterCache,
  options: { budgetMs?: number; clock?: () => number } = {},
): { matched: T[]; unmatched: T[]; errors: FilterError[] } {
  const budgetMs = options.budgetMs ?? MATCH_BUDGET_MS;
  const clock = options.clock ?? (() => performance.now());
  const result: { matched: T[]; unmatched: T[]; errors: FilterError[] } = { matched: [], unmatched: [], errors: [] };
  const startedMs = clock();
  for (const trigger of triggers) {
    if (clock() - startedMs > budgetMs) {
      result.errors.push({ triggerId: trigger.id, code: 'match_budget_exceeded', message: `not evaluated: matching this event had used its ${budgetMs} ms budget` });
      continue;
    }
    const outcome = cache.test(trigger.id, trigger.version, trigger.on.filter, event);
    if ('error' in outcome) result.errors.push({ triggerId: trigger.id, code: 'filter_failed', message: outcome.error });
    else (outcome.matched ? result.matched : result.unmatched).push(trigger);
  }
  return result;
}
