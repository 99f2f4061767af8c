/**
 * Checks a schedule's cron expression and time zone before a trigger is
 * saved, in the dialect Temporal's scheduler reads them (Temporal computes
 * every firing time; nothing here does). Hand-written rather than a cron
 * library: the libraries parse other dialects (Vixie cron matches a day when
 * day-of-month OR day-of-week fits, Temporal when both fit; they accept `L`,
 * `#`, `?` or seconds, which Temporal does not), so they would accept
 * expressions that mean something else, or fail, once Temporal reads them.
 */

interface FieldRule {
  name: string;
  min: number;
  max: number;
  /** Three-letter names, index 0 = `min`. */
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

/** The five fields in order; day-of-week takes 0-7 (0 and 7 are Sunday), as Temporal does. */
const FIELDS: readonly FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

/** The longest a field's list may be: a cron string is at most 200 characters anyway. */
const MAX_LIST_ITEMS = 60;

/** Days in each month at most (February in a leap year). */
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

class CronError extends Error {}

function valueOf(text: string, rule: FieldRule): number {
  const byName = rule.names?.indexOf(text.toUpperCase() as never) ?? -1;
  if (byName >= 0) return rule.min + byName;
  if (!/^\d{1,2}$/.test(text)) throw new CronError(`${rule.name}: "${text}" is not a number${rule.names ? ` or a name (${rule.names[0]}-${rule.names.at(-1)})` : ''}`);
  const value = Number(text);
  if (value < rule.min || value > rule.max) throw new CronError(`${rule.name}: ${value} is outside ${rule.min}-${rule.max}`);
  return value;
}

/** The values one list item (`*`, `5`, `1-5`, `*\/15`, `1-30/5`, `3/5`) selects. */
function itemValues(item: string, rule: FieldRule): number[] {
  const [range = '', stepText, extra] = item.split('/');
  if (extra !== undefined || range === '') throw new CronError(`${rule.name}: "${item}" is malformed`);
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d{1,2}$/.test(stepText) || Number(stepText) < 1) throw new CronError(`${rule.name}: the step in "${item}" must be a whole number of at least 1`);
    step = Number(stepText);
  }
  let start = rule.min;
  let end = rule.max;
  if (range !== '*') {
    const [from = '', to, more] = range.split('-');
    if (more !== undefined) throw new CronError(`${rule.name}: "${item}" is malformed`);
    start = valueOf(from, rule);
    end = to !== undefined ? valueOf(to, rule) : stepText !== undefined ? rule.max : start;
    if (end < start) throw new CronError(`${rule.name}: the range "${range}" runs backwards`);
  }
  const values: number[] = [];
  for (let value = start; value <= end; value += step) values.push(value);
  return values;
}

function fieldValues(text: string, rule: FieldRule): { values: Set<number>; restricted: boolean } {
  const items = text.split(',');
  if (items.length > MAX_LIST_ITEMS) throw new CronError(`${rule.name}: at most ${MAX_LIST_ITEMS} list items`);
  return { values: new Set(items.flatMap((item) => itemValues(item, rule))), restricted: text !== '*' };
}

/**
 * Null for a five-field cron expression Temporal reads as written (minute
 * hour day-of-month month day-of-week; numbers, `*`, ranges, steps, lists,
 * JAN-DEC, SUN-SAT); otherwise what is wrong, as a sentence. Refused on top
 * of syntax: restricting both day fields (Temporal requires both to match,
 * classic cron either), and dates that never occur (`0 0 31 2 *`).
 */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return `must have 5 fields (minute hour day-of-month month day-of-week), not ${fields.length}`;
  try {
    const [, , days, months, weekdays] = fields.map((field, index) => fieldValues(field, FIELDS[index]!));
    if (days!.restricted && weekdays!.restricted) {
      return 'restrict day of month or day of week, not both: Temporal fires only on days that match both, unlike classic cron';
    }
    const longestMonth = Math.max(...[...months!.values].map((month) => MAX_DAYS_IN_MONTH[month - 1]!));
    if (Math.min(...days!.values) > longestMonth) return `day of month ${Math.min(...days!.values)} never occurs in the months given`;
    return null;
  } catch (error) {
    if (error instanceof CronError) return error.message;
    throw error;
  }
}

/** An IANA name as Temporal's server loads it: segments of letters, digits, `_`, `+`, `-`, each starting with a capital. */
const ZONE_NAME = /^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)*$/;

/**
 * Null for an IANA time zone this process knows (through `Intl`), e.g.
 * `Europe/Nicosia` or `UTC`; otherwise why not. Offsets (`+02:00`) and names
 * in the wrong case are refused: Temporal's server (Go) loads zones by their
 * exact, case-sensitive name.
 */
export function timezoneProblem(zone: string): string | null {
  if (!ZONE_NAME.test(zone)) return `"${zone}" is not an IANA time zone name (case-sensitive, e.g. Europe/Nicosia or UTC)`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return null;
  } catch {
    return `unknown time zone "${zone}"`;
  }
}
