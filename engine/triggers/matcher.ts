import { Query } from 'mingo';
import type { EventEnvelope } from '../../workflows/types';
import { jsonDepthExceeds } from '../json-depth';

/** Deepest nesting a filter (`on.filter`, a task's `when`) may have. */
export const MAX_FILTER_DEPTH = 12;

/**
 * Compiles a MongoDB-style filter (`$eq`, `$in`, `$gte`, `$and`, ...) with
 * mingo. Throws with mingo's message for an unknown operator or bad shape.
 */
export function compileFilter(filter: Record<string, unknown> | undefined): (event: EventEnvelope) => boolean {
  if (!filter || Object.keys(filter).length === 0) return () => true;
  if (jsonDepthExceeds(filter, MAX_FILTER_DEPTH)) throw new Error(`the filter is nested deeper than ${MAX_FILTER_DEPTH} levels`);
  const query = new Query(filter);
  return (event) => query.test(event as unknown as Record<string, unknown>);
}

/** The filter's problem as a sentence, or null when it compiles. */
export function filterProblem(filter: Record<string, unknown> | undefined): string | null {
  try {
    compileFilter(filter);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Compiled filters by trigger id and version. Versions are immutable, so an
 * entry never goes stale; the map is bounded by evicting the oldest entry.
 */
export class FilterCache {
  private readonly compiled = new Map<string, (event: EventEnvelope) => boolean>();
  constructor(private readonly maxEntries = 1_000) {}

  matches(triggerId: string, version: number, filter: Record<string, unknown> | undefined, event: EventEnvelope): boolean {
    const key = `${triggerId}@${version}`;
    let test = this.compiled.get(key);
    if (!test) {
      test = compileFilter(filter);
      if (this.compiled.size >= this.maxEntries) this.compiled.delete(this.compiled.keys().next().value!);
      this.compiled.set(key, test);
    }
    return test(event);
  }
}
