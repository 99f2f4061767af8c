import { RUN_STATUSES, TRIGGER_ID_PATTERN, type RunReader } from '../../engine/runs/run-reader';
import { TASK_TYPES } from '../../tasks/registry';
import type { RouteModule } from '../app';
import { MAX_STORED_EVENT_ID_LENGTH } from '../events/routes';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const runSummarySchema = z
  .object({
    workflowId: z.string(), runId: z.string(), triggerId: z.string().nullable(), eventId: z.string().nullable(),
    status: z.enum(RUN_STATUSES), startedAt: z.string().nullable(), closedAt: z.string().optional(), temporalUiUrl: z.string(),
  })
  .openapi('RunSummary');
const taskSchema = z
  .object({
    id: z.string(), type: z.enum(TASK_TYPES), status: z.enum(['pending', 'running', 'completed', 'skipped', 'failed']),
    output: z.unknown().optional(), error: z.object({ code: z.string(), message: z.string(), line: z.number().optional(), column: z.number().optional() }).optional(),
    skipReason: z.string().optional(),
  })
  .openapi('RunTask');
const causeSchema = z
  .object({
    eventId: z.string().openapi({ description: 'The internal event that started the run, e.g. `bal:<entryId>`.' }),
    workflowId: z.string().optional().openapi({ description: 'The run whose posting produced that event; absent when a client posted it.' }),
    depth: z.number().int().openapi({ description: 'The chain depth: 1 after a client\'s posting, one more than the causing run\'s otherwise. A run deeper than 5 runs no task and fails with `chain_too_deep`.' }),
  })
  .openapi('RunCause');
const runErrorSchema = z
  .object({ code: z.string(), message: z.string() })
  .openapi('RunError', { description: 'Why the run failed before any task ran, e.g. `chain_too_deep`; a task\'s failure is on the task.' });
const runPackageSchema = z
  .object({
    status: z.enum(['matched', 'none', 'ambiguous']),
    id: z.string().optional(), version: z.number().int().optional(), name: z.string().optional(),
    price: z.object({ amount: z.number().int(), currency: z.string() }).optional(),
    credits: z.object({ amount: z.number().int(), unit: z.string() }).optional(),
    candidates: z.array(z.object({ id: z.string(), version: z.number().int() })).optional(),
  })
  .openapi('RunPackage');
const runDetailSchema = runSummarySchema
  .extend({
    phase: z.string().nullable(), triggerVersion: z.number().int().nullable(), tasks: z.array(taskSchema), cancelledBy: z.unknown().optional(), lateCancellations: z.array(z.unknown()),
    lateCancelTasks: z.array(taskSchema).optional().openapi({ description: 'The trigger\'s `onLateCancel` tasks, once a cancellation that arrived after the tasks began made them run.' }),
    cause: causeSchema.optional().openapi({ description: 'Set on runs an internal event started (a balance change).' }),
    error: runErrorSchema.optional(),
    package: runPackageSchema.optional().openapi({ description: 'On runs whose trigger credits `amountFrom: "package"`: the package chosen when the event matched (`matched` with its id, version, price and credits; `none`; or `ambiguous` with the candidates).' }),
  })
  .openapi('Run');

// Filters go into Temporal's visibility query, so they are checked here, before
// it: trigger ids as the API creates them, event ids without control characters.
const noControlCharacters = (value: string) => !/[\u0000-\u001f\u007f-\u009f]/.test(value);
const runsQuerySchema = pageQuerySchema.extend({
  triggerId: z.string().regex(TRIGGER_ID_PATTERN, 'must be a trigger id (trg_ and 16 hex digits)').optional(),
  eventId: z.string().min(1).max(MAX_STORED_EVENT_ID_LENGTH).refine(noControlCharacters, 'must not contain control characters').optional(),
  status: z.enum(RUN_STATUSES).optional(),
});

/** Runs as Temporal records them: listed from visibility, detailed by query. */
export function runRoutes(reader: RunReader): RouteModule {
  return (routes) => {
    routes.add({
      method: 'get', path: '/v1/runs', scope: 'admin', tags: ['runs'],
      summary: 'List runs, newest first',
      query: runsQuerySchema,
      responses: { 200: { description: 'A page of runs.', schema: z.object({ items: z.array(runSummarySchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => ({ status: 200, body: await reader.list(query) }),
    });
    routes.add({
      method: 'get', path: '/v1/runs/:workflowId', scope: 'admin', tags: ['runs'],
      summary: "One run with every task's status and output",
      params: z.object({ workflowId: z.string().min(1).max(1000).refine(noControlCharacters, 'must not contain control characters') }),
      responses: { 200: { description: 'The run.', schema: runDetailSchema }, 404: { description: 'No such run.' }, 503: { description: 'The run is open (or closed other than completed) and no worker answered its state query in time: `run_state_unavailable`; retry once a worker runs.' } },
      handler: async ({ params }) => ({ status: 200, body: await reader.get(params.workflowId) }),
    });
  };
}
