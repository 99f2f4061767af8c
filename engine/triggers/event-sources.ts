/**
 * The trigger fields for event sources beyond POST /v1/events: a schedule
 * (`on.schedule`), a sweep over accounts (`forEachAccount`) or records
 * (`forEachRecord`), and the gates
 * that hold matches back (`throttle`, `singleton`). The shapes live here;
 * what each does lives with its engine module (engine/schedules for
 * schedules and sweeps, engine/events/run-gates.ts for the gates).
 */
import { unitSchema } from '../../tasks/fields';
import { z } from '../zod';
import { filterObjectSchema } from './filter-rules';

/** The longest interval or throttle window: a year. */
export const MAX_INTERVAL_SECONDS = 31_536_000;

/** Event types that only Creditflow produces; a client posting one gets 422. */
export const RESERVED_EVENT_PREFIXES = ['account.', 'schedule.'] as const;

/** True for `account.*` and `schedule.*`. */
export function isReservedEventType(type: string): boolean {
  return RESERVED_EVENT_PREFIXES.some((prefix) => type.startsWith(prefix));
}

/** The event type a schedule's firings have. */
export const SCHEDULE_FIRED = 'schedule.fired';

/** A template that names the key a gate counts by, e.g. `{{account.ownerId}}`. */
const gateKeySchema = z.string().min(1).max(320).openapi({ description: 'The key the gate counts by: a literal, or `{{path}}` references into the run context (`account`, `data`, `event`, `customer`), e.g. `{{account.ownerId}}`.', example: '{{account.ownerId}}' });

const timezoneSchema = z.string().min(1).max(64).openapi({ description: 'An IANA time zone, e.g. `Europe/Nicosia`; default `UTC`.', example: 'Europe/Nicosia' });

export const scheduleSchema = z
  .union([
    z.strictObject({
      cron: z.string().min(1).max(200).openapi({ description: 'Five fields: minute hour day-of-month month day-of-week, e.g. `0 6 * * *`.', example: '0 6 * * *' }),
      timezone: timezoneSchema.default('UTC'),
    }),
    z.strictObject({ everySeconds: z.number().int().min(1).max(MAX_INTERVAL_SECONDS).openapi({ description: 'Fire every this many seconds.', example: 604800 }) }),
  ])
  .openapi('Schedule', { description: 'When a scheduled trigger fires: a cron expression in a time zone, or a fixed interval. Each firing is a `schedule.fired` event.' });

export const forEachAccountSchema = z
  .strictObject({
    unit: unitSchema,
    filter: filterObjectSchema.optional().openapi({ description: 'A MongoDB-style filter over `{ ownerId, unit, balance, customer }`, e.g. `{ "balance": { "$lte": 1000 } }`.' }),
  })
  .openapi('ForEachAccount', { description: 'Makes a scheduled trigger a sweep: each firing starts one run per account of the unit that matches the filter at firing time, with `account` in its context.' });

export const throttleSchema = z
  .union([
    z.strictObject({ key: gateKeySchema, per: z.literal('day').openapi({ description: 'At most one run per key per calendar day in `timezone`.' }), timezone: timezoneSchema.default('UTC') }),
    z.strictObject({ key: gateKeySchema, minIntervalSeconds: z.number().int().min(1).max(MAX_INTERVAL_SECONDS).openapi({ description: 'At most one run per key in any window this long (rolling).' }) }),
  ])
  .openapi('Throttle', { description: 'At most one run per key per window, across every API replica; a throttled match starts nothing and is listed under `throttled`.' });

export const singletonSchema = z
  .strictObject({ key: gateKeySchema })
  .openapi('Singleton', { description: 'While this trigger\'s run for the same key is open, a new match starts nothing and is listed under `skipped` (reason `run_open`).' });

/** Lowercase, as engine/records names kinds; a kind no record has yet is allowed (it matches nothing) and warned about. */
const recordKindSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be lowercase letters, digits, _ and - (1-64), starting with a letter');

export const forEachRecordSchema = z
  .strictObject({
    kind: recordKindSchema.openapi({ example: 'bill' }),
    filter: filterObjectSchema.optional().openapi({ description: 'A MongoDB-style filter over the record (`kind`, `id`, `ownerId`, `state`, `amount`, `unit`, `attributes`, `version`) plus `customer`, its owner\'s profile, e.g. `{ "state": { "$in": ["unsettled", "partially_settled"] }, "customer.attributes.paymentPreference": "card" }`.' }),
  })
  .openapi('ForEachRecord', { description: 'Makes a scheduled trigger a sweep over records of one kind: each firing starts one run per record that matches at firing time, with `record` (and `customer`) in its context, event id `<triggerId>@<scheduledAt>:<kind>:<id>`.' });

export type ScheduleSpec = z.infer<typeof scheduleSchema>;
export type ForEachAccount = z.infer<typeof forEachAccountSchema>;
export type ForEachRecord = z.infer<typeof forEachRecordSchema>;
export type ThrottleSpec = z.infer<typeof throttleSchema>;
export type SingletonSpec = z.infer<typeof singletonSchema>;
