import type { EventView } from '../../engine/events/event-store';
import { jsonLimitProblem } from '../../engine/json-depth';
import type { Connection } from 'mongoose';
import { listEvents } from '../../engine/events/event-store';
import type { EventIngestor } from '../../engine/events/ingest';
import { createPaymentRequests, GATEWAY_EVENT_STATES } from '../../engine/payments/payment-requests';
import { eventTypeSchema } from '../../engine/triggers/trigger-schema';
import { isReservedEventType, RESERVED_EVENT_PREFIXES } from '../../engine/triggers/event-sources';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

/**
 * The longest id an event can have once stored: a client's are at most 200
 * characters, a balance event's `bal:<unit>:<ownerId>:<seq>` up to 228
 * (owner ids are at most 200).
 */
export const MAX_STORED_EVENT_ID_LENGTH = 240;

/** Deepest nesting accepted in event data; real booking payloads are a few levels deep. */
export const MAX_EVENT_DEPTH = 32;
/** Most values (object members and array items, at every level) in event data; a booking is a few hundred. */
export const MAX_EVENT_VALUES = 5_000;

export const eventBodySchema = z
  .strictObject({
    id: z.string().min(1).max(200).openapi({ example: 'evt_8f2c' }),
    type: eventTypeSchema.openapi({ example: 'request.created' }),
    occurredAt: z.iso.datetime({ offset: true }).optional(),
    data: z.record(z.string(), z.unknown()).superRefine((data, context) => {
      const problem = jsonLimitProblem(data, { maxDepth: MAX_EVENT_DEPTH, maxNodes: MAX_EVENT_VALUES });
      if (problem === 'depth') context.addIssue({ code: 'custom', message: `must not nest deeper than ${MAX_EVENT_DEPTH} levels` });
      if (problem === 'nodes') context.addIssue({ code: 'custom', message: `must hold at most ${MAX_EVENT_VALUES} values (object members and array items, at every level)` });
    }),
  })
  .superRefine((event, context) => {
    if (isReservedEventType(event.type)) context.addIssue({ code: 'custom', path: ['type'], message: `${RESERVED_EVENT_PREFIXES.map((prefix) => `${prefix}*`).join(' and ')} events are produced by Creditflow only` });
  })
  .openapi('EventInput');

const filterErrorSchema = z
  .object({
    triggerId: z.string(),
    code: z.enum(['filter_failed', 'match_budget_exceeded']).openapi({ description: '`filter_failed`: the filter threw on this event (e.g. `$toInt` of a non-number, a division by zero) and counts as no match. `match_budget_exceeded`: matching this event had used its time budget, so the filter was not evaluated.' }),
    message: z.string(),
  })
  .openapi('FilterError');
const throttledSchema = z
  .object({ triggerId: z.string(), key: z.string(), until: z.string().openapi({ description: 'When the throttle window for this key ends (ISO 8601).' }) })
  .openapi('ThrottledMatch', { description: 'A trigger that matched but started nothing: its throttle already let a run through for this key in the current window.' });
const skippedSchema = z
  .object({ triggerId: z.string(), key: z.string(), reason: z.enum(['run_open']), workflowId: z.string().openapi({ description: 'The open run that holds the singleton key.' }) })
  .openapi('SkippedMatch', { description: 'A trigger that matched but started nothing: its singleton run for this key is still open.' });
const runRefSchema = z.object({ triggerId: z.string(), triggerVersion: z.number().int(), workflowId: z.string() }).openapi('RunRef');
const ingestResultSchema = z
  .object({
    eventId: z.string(), duplicate: z.boolean(), runs: z.array(runRefSchema), signalled: z.array(z.string()),
    released: z.array(z.string()).openapi({ description: 'Runs whose wait_for_event task this event released.' }),
    throttled: z.array(throttledSchema).openapi({ description: 'Matches that a trigger\'s throttle held back.' }),
    skipped: z.array(skippedSchema).openapi({ description: 'Matches that a trigger\'s singleton held back.' }),
  })
  .openapi('EventAccepted');
const eventSchema = z
  .object({
    id: z.string(), type: z.string(), occurredAt: z.string(), receivedAt: z.string(), data: z.record(z.string(), z.unknown()),
    status: z.enum(['received', 'dispatched']), runs: z.array(runRefSchema), signalled: z.array(z.string()),
    alreadyClosed: z.array(z.string()).openapi({ description: 'Runs this event would have cancelled had they not closed already; nothing was changed.' }),
    released: z.array(z.string()).openapi({ description: 'Runs whose wait_for_event task this event released.' }),
    filterErrors: z.array(filterErrorSchema).openapi({ description: 'Triggers of this type that did not match because their filter threw or was not evaluated; the other triggers were matched as usual.' }),
    throttled: z.array(throttledSchema).openapi({ description: 'Matches that a trigger\'s throttle held back.' }),
    skipped: z.array(skippedSchema).openapi({ description: 'Matches that a trigger\'s singleton held back.' }),
  })
  .openapi('Event');

function present(doc: EventView) {
  return {
    id: doc._id, type: doc.type, occurredAt: doc.occurredAt.toISOString(), receivedAt: doc.receivedAt.toISOString(),
    data: JSON.parse(doc.dataJson) as Record<string, unknown>, status: doc.status, runs: doc.runs, signalled: doc.signalled, alreadyClosed: doc.alreadyClosed, released: doc.released, filterErrors: doc.filterErrors,
    throttled: doc.throttled, skipped: doc.skipped,
  };
}

/** Event ingestion from booking and billing systems, and the event log. */
export function eventRoutes(ingestor: EventIngestor, connection: Connection): RouteModule {
  const paymentRequests = createPaymentRequests(connection);
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/events', scope: 'events:write', rateLimit: 'ingestion', tags: ['events'],
      summary: 'Send an event',
      description: 'Stores the event (its id is the dedupe key), starts one run per matching trigger, and signals waiting runs it cancels. The same id and body again answers 200 with the original runs; the same id with another body is 409.',
      body: eventBodySchema,
      responses: { 202: { description: 'Accepted; runs started.', schema: ingestResultSchema }, 200: { description: 'A duplicate; nothing new started.', schema: ingestResultSchema }, 409: { description: 'The id was used with a different body.' } },
      handler: async ({ body, principal }) => {
        // A gateway's event moves its payment request on before the event reaches the runs waiting for it.
        const requestId = (body.data.paymentRequest as { id?: unknown } | undefined)?.id;
        if (body.type in GATEWAY_EVENT_STATES && typeof requestId === 'string') {
          const reason = (body.data.paymentRequest as { reason?: unknown }).reason;
          await paymentRequests.applyGatewayEvent({ id: body.id, type: body.type as keyof typeof GATEWAY_EVENT_STATES, requestId, reason: typeof reason === 'string' ? reason.slice(0, 500) : undefined });
        }
        const result = await ingestor.ingest(body, principal?.keyId ?? 'unknown');
        return { status: result.duplicate ? 200 : 202, body: result };
      },
    });
    routes.add({
      method: 'get', path: '/v1/events', scope: 'admin', tags: ['events'],
      summary: 'List events, newest first',
      query: pageQuerySchema.extend({ type: eventTypeSchema.optional() }),
      responses: { 200: { description: 'A page of events.', schema: z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => {
        const page = await listEvents(connection, query);
        return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/events/:id', scope: 'admin', tags: ['events'],
      summary: 'One event with the runs it started and signalled',
      params: z.object({ id: z.string().min(1).max(MAX_STORED_EVENT_ID_LENGTH) }),
      responses: { 200: { description: 'The event.', schema: eventSchema }, 404: { description: 'No such event.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await ingestor.get(params.id)) }),
    });
  };
}
