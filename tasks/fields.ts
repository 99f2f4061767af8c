/**
 * Field schemas that several task kinds share, each defined once. Limits
 * come from the module that enforces them at run time (the ledger, the
 * sandbox), so a trigger that saves can never break them when it runs.
 */
import { UNIT_PATTERN } from '../engine/ledger/limits';
import { z } from '../engine/zod';

export const taskIdSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must start with a letter and hold only letters, digits, _ and - (at most 64)');

/** A path into the run context, e.g. `reservation.price_int` or `tasks.compute.amount_cents`. */
export const contextPath = z.string().max(200).regex(/^[A-Za-z_$][\w$]*(\.[\w$-]+)*$/, 'must be a dotted path such as reservation.price_int');

/** A literal owner id or one `{{path}}` reference into the run context. */
export const ownerReference = z.string().min(1).max(320);

/** ISO 4217 or CREDIT, as the ledger accepts. */
export const unitSchema = z.string().regex(UNIT_PATTERN, 'must be an ISO 4217 code such as USD, or CREDIT');

export const templateNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lowercase letters, digits and - (at most 64)');
