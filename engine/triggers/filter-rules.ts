/**
 * What a filter (a trigger's `on.filter`, a task's `when`) may contain, so
 * that evaluating it costs time linear in the event's size and runs no code
 * (architecture invariant 11). This module owns the rules; `filterProblem`
 * (matcher.ts) applies them at save for both kinds of filter, and the API
 * applies them again when it compiles a stored filter.
 *
 * The rules, each refused with a sentence that names what broke it:
 * - keys `__proto__`, `constructor` and `prototype`, anywhere: they reach
 *   object prototypes, and a JSON `__proto__` key is silently dropped on the
 *   way in, which would make the filter match every event;
 * - query operators outside QUERY_OPERATORS (`$where` runs code,
 *   `$jsonSchema` carries unchecked patterns);
 * - inside `$expr`, operators outside EXPRESSION_OPERATORS (`$function` and
 *   `$accumulator` run code, `$range`, `$map`, `$reduce` and `$filter` loop
 *   over sizes the event controls, `$regexMatch` and friends take patterns);
 * - a `$regex` longer than MAX_REGEX_LENGTH characters, with `$options`
 *   other than i, m and s, or one the recheck analyser finds vulnerable to
 *   catastrophic backtracking (or cannot decide within its time budget);
 * - more than MAX_FILTER_OPERATORS operators in one filter.
 */
import { checkSync } from 'recheck';
import { z } from '../zod';

/** Longest `$regex` pattern, in characters. Real filters match ids and domains. */
export const MAX_REGEX_LENGTH = 1_000;

/** Most operators (`$`-keys) one filter may use: bounds the work one evaluation does per event. */
export const MAX_FILTER_OPERATORS = 200;

/** Time recheck may spend on one pattern at save; past it the pattern is refused, conservatively. */
export const REGEX_CHECK_TIMEOUT_MS = 2_000;

/** Keys that reach object prototypes. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Query operators a filter may use: comparison, logic, element and array tests, `$regex` (checked) and `$expr` (checked). */
export const QUERY_OPERATORS: ReadonlySet<string> = new Set([
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin',
  '$and', '$or', '$nor', '$not',
  '$exists', '$type', '$mod', '$size', '$all', '$elemMatch',
  '$regex', '$options', '$expr',
]);

/**
 * Aggregation operators `$expr` may use. Each does work bounded by its
 * arguments, which are bounded by the event's size: no loops over arrays
 * the event sizes (`$map`, `$filter`, `$reduce`, `$range`), no code, no
 * patterns (`$regexMatch`, `$regexFind`, `$regexFindAll`, `$replaceAll`).
 */
export const EXPRESSION_OPERATORS: ReadonlySet<string> = new Set([
  '$literal',
  // Logic and comparison.
  '$and', '$or', '$not', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$cmp',
  // Conditionals.
  '$cond', '$ifNull', '$switch',
  // Arithmetic.
  '$add', '$subtract', '$multiply', '$divide', '$mod', '$abs', '$ceil', '$floor', '$round', '$trunc', '$min', '$max',
  // Types and conversion.
  '$type', '$isNumber', '$toInt', '$toLong', '$toDouble', '$toDecimal', '$toString', '$toBool',
  // String basics.
  '$concat', '$toLower', '$toUpper', '$strLenCP', '$substrCP', '$trim', '$ltrim', '$rtrim', '$strcasecmp',
  // Array basics, without iteration.
  '$size', '$in', '$arrayElemAt', '$isArray',
]);

/** Flags a `$regex` may carry: JavaScript's i, m and s. */
const REGEX_OPTIONS = /^[ims]*$/;

type Mode = 'query' | 'expression';

/** Why a pattern may not be used in a filter, or null when it may. */
export function regexProblem(pattern: string, flags: string): string | null {
  const shown = pattern.length > 60 ? `${JSON.stringify(pattern.slice(0, 60))}...` : JSON.stringify(pattern);
  if (pattern.length > MAX_REGEX_LENGTH) return `$regex ${shown} is longer than ${MAX_REGEX_LENGTH} characters`;
  if (!REGEX_OPTIONS.test(flags)) return `$options "${flags}" may only use i, m and s`;
  try {
    new RegExp(pattern, flags);
  } catch (error) {
    return `$regex ${shown} is not a valid regular expression: ${(error as Error).message}`;
  }
  const diagnostics = checkSync(pattern, flags, { timeout: REGEX_CHECK_TIMEOUT_MS });
  if (diagnostics.status === 'safe') return null;
  if (diagnostics.status === 'vulnerable') {
    return `$regex ${shown} can take exponential or polynomial time on some inputs (catastrophic backtracking, e.g. on ${JSON.stringify(diagnostics.attack.pattern)}); rewrite it without nested or overlapping repetition`;
  }
  return `$regex ${shown} could not be shown safe from catastrophic backtracking within ${REGEX_CHECK_TIMEOUT_MS} ms; simplify it`;
}

/** Walks a filter and returns the first broken rule as a sentence, or null. */
export function filterRuleProblem(filter: Record<string, unknown>): string | null {
  let operators = 0;

  function visit(value: unknown, mode: Mode, at: string): string | null {
    if (value instanceof RegExp) return regexProblem(value.source, value.flags.replace(/[gyu]/g, ''));
    if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        const problem = visit(item, mode, `${at}.${index}`);
        if (problem) return problem;
      }
      return null;
    }
    if (value === null || typeof value !== 'object') return null;
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return `${at || 'the filter'} has a __proto__ key; keys __proto__, constructor and prototype are not allowed`;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const path = at ? `${at}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key) || key.split('.').some((part) => PROTOTYPE_KEYS.has(part))) return `key "${path}" is not allowed: keys __proto__, constructor and prototype reach object prototypes`;
      let inner: Mode = mode;
      if (key.startsWith('$') && !key.startsWith('$$')) {
        operators += 1;
        if (operators > MAX_FILTER_OPERATORS) return `the filter uses more than ${MAX_FILTER_OPERATORS} operators`;
        const allowed = mode === 'query' ? QUERY_OPERATORS : EXPRESSION_OPERATORS;
        if (!allowed.has(key)) return `${key} is not allowed in a filter${mode === 'expression' ? ' expression ($expr)' : ''}: it runs code, cannot be bounded, or is not supported`;
        if (key === '$regex') {
          const options = typeof record.$options === 'string' ? record.$options : '';
          const problem = typeof record.$regex === 'string' ? regexProblem(record.$regex, options) : visit(record.$regex, mode, path);
          if (problem) return problem;
          continue;
        }
        if (key === '$expr') inner = 'expression';
        if (key === '$literal') continue;
      }
      const problem = visit(record[key], inner, path);
      if (problem) return problem;
    }
    return null;
  }

  return visit(filter, 'query', '');
}

/** The first prototype key anywhere in a value as it arrived (before parsing drops `__proto__`), or null. */
export function prototypeKeyIn(value: unknown, at = ''): string | null {
  if (value === null || typeof value !== 'object') return null;
  for (const [key, inner] of Object.entries(value)) {
    const path = at ? `${at}.${key}` : key;
    if (PROTOTYPE_KEYS.has(key)) return path;
    const found = prototypeKeyIn(inner, path);
    if (found) return found;
  }
  return null;
}

/**
 * A filter as a request body carries it. zod drops a `__proto__` key from
 * a record without a word, which would leave a filter that matches every
 * event; this schema sees the value as it arrived and refuses the key.
 */
export const filterObjectSchema = z.preprocess((raw, context) => {
  const key = prototypeKeyIn(raw);
  if (key) context.addIssue({ code: 'custom', message: `key "${key}" is not allowed: keys __proto__, constructor and prototype reach object prototypes`, input: raw });
  return raw;
}, z.record(z.string(), z.unknown()));
