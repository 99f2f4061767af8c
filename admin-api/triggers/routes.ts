import type { CancelIndex } from '../../engine/events/cancel-index';
import { scheduleIdOf, type ScheduleSync } from '../../engine/schedules/schedule-sync';
import type { DryRun } from '../../engine/triggers/dry-run';
import { triggerDefinitionSchema, triggerKeySchema } from '../../engine/triggers/trigger-schema';
import type { TriggerRecord, TriggerStore } from '../../engine/triggers/trigger-store';
import { validateTrigger, type NormalizedTrigger, type TriggerCheckers } from '../../engine/triggers/validate';
import type { WebhookSecrets } from '../../engine/triggers/webhook-secrets';
import type { RecordStore } from '../../engine/records/record-store';
import { eventBodySchema } from '../events/routes';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { z } from '../zod';

const definitionSchema = triggerDefinitionSchema.openapi('TriggerInput');
const warningSchema = z.object({ path: z.string(), code: z.string(), message: z.string() }).openapi('TriggerWarning');
const triggerSchema = z
  .object({
    id: z.string(), key: z.string().optional().openapi({ description: 'The trigger key, when it has one.' }), version: z.number().int(), createdAt: z.string(), updatedAt: z.string(),
    warnings: z.array(warningSchema).optional().openapi({ description: 'On a save: things that are allowed but look like a mistake, e.g. `record_kind_unknown` for a `forEachRecord.kind` no record has (a typo matches nothing).' }),
  })
  .catchall(z.unknown())
  .openapi('Trigger', { description: 'The trigger definition as saved (defaults filled in), with its id and current version.' });
const webhookSecretSchema = z.string().openapi({
  description: 'The secret (`whsec_...`) this trigger\'s webhook tasks sign with: `Creditflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhookSecret, t + "." + raw body)>`. Shown only here; the store keeps it encrypted.',
  example: 'whsec_3q2-7wEXAMPLEo4mZ1bQx9yUuV0cT8sRkLpJ5nH6gFe',
});
const createdTriggerSchema = triggerSchema.extend({ webhookSecret: webhookSecretSchema }).openapi('TriggerCreated', { description: 'The new trigger, with its webhook secret: the only time it is shown, apart from a rotation.' });
const scheduleStateSchema = z
  .object({
    scheduleId: z.string().openapi({ description: 'The Temporal Schedule behind the trigger (`creditflow-trigger:<id>`), visible in the Temporal UI.' }),
    state: z.enum(['active', 'paused', 'missing', 'unavailable']).openapi({ description: '`paused` while the trigger is disabled; `missing` until a worker\'s reconciliation creates it (a save whose sync failed); `unavailable` when Temporal did not answer.' }),
    nextFireTimes: z.array(z.string()).openapi({ description: 'The next firing times (ISO 8601, UTC), soonest first, as Temporal computes them; empty unless `active`.' }),
  })
  .openapi('TriggerSchedule');
const triggerWithScheduleSchema = triggerSchema
  .extend({ schedule: scheduleStateSchema.optional().openapi({ description: 'Present for a trigger with `on.schedule`.' }) })
  .openapi('TriggerWithSchedule', { description: 'The trigger at its current version; a scheduled one with its schedule\'s state and next firing times.' });
type RecordKinds = Pick<RecordStore, 'hasKind'>;
const idParams = z.object({ id: z.string().min(1).max(100) });
const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');

function present<T extends { createdAt: Date; updatedAt: Date }>(record: T) {
  return { ...record, createdAt: record.createdAt.toISOString(), updatedAt: record.updatedAt.toISOString() };
}

// A schema of its own, not an `.extend` of EventInput: OpenAPI would describe
// that as an allOf of two closed objects, which no request satisfies.
const dryRunEventSchema = z.strictObject({ ...eventBodySchema.shape, id: eventBodySchema.shape.id.default('dry-run') }).openapi('DryRunEvent', { description: 'An event as POST /v1/events takes it; id defaults to "dry-run".' });
/**
 * The event as a run sees it: the event store keeps occurredAt as a date and
 * hands runs its UTC ISO form (`...T10:00:00.000Z`), the receipt time when
 * absent, so the dry run shows scripts and filters the same string.
 */
function asRunEvent(event: z.infer<typeof dryRunEventSchema>) {
  return { ...event, occurredAt: new Date(event.occurredAt ?? Date.now()).toISOString() };
}
const dryRunTaskSchema = z.object({ id: z.string(), type: z.string(), outcome: z.enum(['would_complete', 'would_skip', 'would_fail']) }).catchall(z.unknown());
const dryRunSchema = z
  .object({
    event: z.unknown(),
    matched: z.array(z.object({ triggerId: z.string(), triggerKey: z.string().optional(), triggerVersion: z.number().int(), name: z.string(), waitSeconds: z.number().int(), tasks: z.array(dryRunTaskSchema) })),
    notMatched: z.array(z.object({ triggerId: z.string(), triggerKey: z.string().optional(), name: z.string(), reason: z.string() })),
    wouldCancel: z.array(z.string()),
  })
  .openapi('DryRun');

/** Allowed but likely mistakes in a saved trigger: a record sweep over a kind no record has. */
async function warningsOf(record: TriggerRecord, records: RecordKinds | undefined): Promise<{ warnings?: Array<{ path: string; code: string; message: string }> }> {
  const kind = record.forEachRecord?.kind;
  if (kind === undefined || !records || (await records.hasKind(kind))) return {};
  return { warnings: [{ path: 'forEachRecord.kind', code: 'record_kind_unknown', message: `no record of kind "${kind}" exists yet: the sweep matches nothing until one does (a typo?)` }] };
}

/** The stored definition of a record, without identity, ready to become a new version. */
function definitionOf(record: TriggerRecord & { createdBy?: string }): NormalizedTrigger {
  const { id: _id, version: _version, createdAt: _created, updatedAt: _updated, createdBy: _by, ...definition } = record;
  return definition;
}

/**
 * Trigger authoring: every change is a new immutable version. After each
 * save the trigger's Temporal Schedule is synced; a failure there is logged
 * and healed by the workers' reconciliation, never lost with the save.
 */
export function triggerRoutes(store: TriggerStore, checkers: TriggerCheckers, dryRun: DryRun, webhookSecrets: Pick<WebhookSecrets, 'issue' | 'rotate'>, schedules: Pick<ScheduleSync, 'syncAfterSave' | 'stateOf'>, cancelRoutes: Pick<CancelIndex, 'ensureRoute'>, records?: RecordKinds): RouteModule {
  async function saved(record: TriggerRecord): Promise<TriggerRecord> {
    // The cancellation's route exists from the save on, so one that arrives before any purchase is held (engine/events/cancel-index.ts).
    const { cancelOn } = record;
    if (cancelOn) await Promise.all(cancelOn.types.map((type) => cancelRoutes.ensureRoute(type, cancelOn.correlate)));
    await schedules.syncAfterSave(record.id, record);
    return record;
  }
  async function withSchedule(record: TriggerRecord) {
    if (!record.on.schedule) return present(record);
    const schedule = await schedules.stateOf(record.id).catch(() => ({ scheduleId: scheduleIdOf(record.id), state: 'unavailable' as const, nextFireTimes: [] }));
    return { ...present(record), schedule };
  }
  return (routes) => {
    routes.add({
      method: 'post', path: '/v1/triggers/dry-run', scope: 'admin', tags: ['triggers'],
      summary: 'What an event would do',
      description: 'Says which enabled triggers match the event and, for each, what every task would do: script output, the posting with the projected balance or the policy it would break, the rendered email. Posts, sends and starts nothing.',
      body: z.strictObject({ event: dryRunEventSchema }),
      responses: { 200: { description: 'The simulation.', schema: dryRunSchema } },
      handler: async ({ body }) => {
        const event = asRunEvent(body.event);
        return { status: 200, body: await dryRun.run(event, await store.listeningTo(event.type)) };
      },
    });
    routes.add({
      method: 'post', path: '/v1/triggers/:id/dry-run', scope: 'admin', tags: ['triggers'],
      summary: 'What an event would do with this trigger, even while it is disabled',
      params: idParams,
      body: z.strictObject({ event: dryRunEventSchema }),
      responses: { 200: { description: 'The simulation.', schema: dryRunSchema }, 404: { description: 'No such trigger.' } },
      handler: async ({ params, body }) => {
        const event = asRunEvent(body.event);
        return { status: 200, body: await dryRun.run(event, [{ ...(await store.get(params.id)), enabled: true }]) };
      },
    });
    routes.add({
      method: 'post', path: '/v1/triggers/validate', scope: 'admin', tags: ['triggers'],
      summary: 'Check a definition without saving it',
      description: 'Runs every check a save runs (except that a key is free) and returns the definition as it would be saved, with defaults filled in, so tools can compare it with the stored trigger. Saves nothing.',
      body: definitionSchema,
      responses: { 200: { description: 'The definition as it would be saved.', schema: z.object({ definition: z.record(z.string(), z.unknown()) }).openapi('TriggerValidated') } },
      handler: async ({ body }) => ({ status: 200, body: { definition: await validateTrigger(body, checkers) } }),
    });
    routes.add({
      method: 'post', path: '/v1/triggers', scope: 'admin', tags: ['triggers'],
      summary: 'Create a trigger (version 1)',
      description: 'A `key`, when given, must not be held by another trigger that is not deleted (409 `trigger_key_taken`, naming `key`). The answer holds `webhookSecret`, which webhook tasks sign with; it is shown only here and on rotation. An enabled trigger answers once every API replica and worker routes events to it (about 0.5 s after the write), so an event sent after the answer meets it.',
      body: definitionSchema,
      responses: { 201: { description: 'Created.', schema: createdTriggerSchema }, 409: { description: 'Another trigger holds the key.' } },
      handler: async ({ body, principal }) => {
        const record = await saved(await store.create(await validateTrigger(body, checkers), principal!.keyId));
        const webhookSecret = await webhookSecrets.issue(record.id, principal!.keyId);
        return { status: 201, body: { ...present(record), ...(await warningsOf(record, records)), webhookSecret } };
      },
    });
    routes.add({
      method: 'post', path: '/v1/triggers/:id/webhook-secret/rotate', scope: 'admin', tags: ['triggers'],
      summary: 'Replace the trigger\'s webhook secret',
      description: 'Issues a new `webhookSecret` and returns it (the only time it is shown). Webhooks sent from now on, including retries of calls already failing, are signed with it; the old one stops being used at once (the answer comes about half a second after the new secret is stored, once no worker can still sign with the old one), so give the receiver the new secret first if it accepts two. A trigger created before triggers had webhook secrets gets its first one this way: until then its webhook tasks fail with `webhook_secret_missing` rather than send unsigned. Two rotations at the same moment: one wins, the other is 409 `webhook_secret_conflict`.',
      params: idParams,
      responses: {
        200: { description: 'The new secret.', schema: z.object({ webhookSecret: webhookSecretSchema }).openapi('WebhookSecretRotated') },
        404: { description: 'No such trigger.' },
        409: { description: 'Another rotation happened at the same moment.' },
      },
      handler: async ({ params, principal }) => {
        await store.get(params.id);
        return { status: 200, body: { webhookSecret: await webhookSecrets.rotate(params.id, principal!.keyId) } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers', scope: 'admin', tags: ['triggers'],
      summary: 'List triggers, newest first',
      description: 'With `key`, the one trigger holding that key (an empty list when none does).',
      query: pageQuerySchema.extend({ enabled: booleanQuery.optional(), key: triggerKeySchema.optional() }),
      responses: { 200: { description: 'A page of triggers.', schema: z.object({ items: z.array(triggerSchema), nextCursor: z.string().nullable() }) } },
      handler: async ({ query }) => {
        const page = await store.list(query);
        return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'One trigger at its current version',
      params: idParams,
      responses: { 200: { description: 'The trigger.', schema: triggerWithScheduleSchema }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => ({ status: 200, body: await withSchedule(await store.get(params.id)) }),
    });
    routes.add({
      method: 'put', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'Replace a trigger (a new version)',
      description: 'Runs already started keep the version they matched. Send `If-Match: <version>` to refuse the change when someone else saved first. Leaving `key` out keeps the current key; a trigger without one may get one; a different key is 422. It answers once every API replica and worker routes events by the new version (about 0.5 s after the write; see Authoring triggers in the README), so an event sent after the answer meets it.',
      params: idParams,
      body: definitionSchema,
      responses: { 200: { description: 'The new version.', schema: triggerSchema }, 404: { description: 'No such trigger.' }, 409: { description: 'The trigger changed meanwhile, or another trigger holds the key.' } },
      handler: async ({ params, body, principal, req }) => {
        const ifMatch = req.get('if-match');
        const expected = ifMatch !== undefined && /^"?\d+"?$/.test(ifMatch) ? Number(ifMatch.replace(/"/g, '')) : undefined;
        const record = await saved(await store.update(params.id, await validateTrigger(body, checkers), principal!.keyId, expected));
        return { status: 200, body: { ...present(record), ...(await warningsOf(record, records)) } };
      },
    });
    routes.add({
      method: 'delete', path: '/v1/triggers/:id', scope: 'admin', tags: ['triggers'],
      summary: 'Delete a trigger',
      description: 'It stops matching events by the time it answers (about 0.5 s after the write, in every API replica and worker); runs in flight finish with their version; versions stay readable for those runs. A scheduled trigger\'s Temporal Schedule is deleted.',
      params: idParams,
      responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => {
        await store.remove(params.id);
        await schedules.syncAfterSave(params.id, null);
        return { status: 204 };
      },
    });
    routes.add({
      method: 'post', path: '/v1/triggers/:id/rollback', scope: 'admin', tags: ['triggers'],
      summary: 'Make an earlier version current again (as a new version)',
      description: 'The earlier definition is validated again (its templates must still exist) and saved as the next version; runs already started keep theirs.',
      params: idParams,
      body: z.strictObject({ version: z.number().int().min(1) }),
      responses: { 200: { description: 'The new version.', schema: triggerSchema }, 404: { description: 'No such trigger or version.' } },
      handler: async ({ params, body, principal }) => {
        const earlier = definitionOf(await store.version(params.id, body.version));
        const revalidated = await validateTrigger(triggerDefinitionSchema.parse(earlier), checkers);
        return { status: 200, body: present(await saved(await store.update(params.id, revalidated, principal!.keyId))) };
      },
    });
    for (const enabled of [true, false]) {
      routes.add({
        method: 'post', path: `/v1/triggers/:id/${enabled ? 'enable' : 'disable'}`, scope: 'admin', tags: ['triggers'],
        summary: enabled ? 'Enable a trigger (a new version); a schedule resumes' : 'Disable a trigger (a new version); runs in flight finish, a schedule is paused',
        params: idParams,
        responses: { 200: { description: 'The new version.', schema: triggerSchema }, 404: { description: 'No such trigger.' } },
        handler: async ({ params, principal }) => {
          const current = await store.get(params.id);
          if (current.enabled === enabled) return { status: 200, body: present(current) };
          return { status: 200, body: present(await saved(await store.update(params.id, { ...definitionOf(current), enabled }, principal!.keyId, current.version))) };
        },
      });
    }
    routes.add({
      method: 'get', path: '/v1/triggers/:id/versions', scope: 'admin', tags: ['triggers'],
      summary: 'Every version of a trigger, newest first',
      params: idParams,
      responses: { 200: { description: 'The versions.', schema: z.object({ items: z.array(z.object({ version: z.number().int(), createdAt: z.string(), createdBy: z.string(), definition: z.unknown() })) }) }, 404: { description: 'No such trigger.' } },
      handler: async ({ params }) => {
        const versions = await store.versions(params.id);
        return { status: 200, body: { items: versions.map((v) => ({ ...v, createdAt: v.createdAt.toISOString() })) } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/triggers/:id/versions/:version', scope: 'admin', tags: ['triggers'],
      summary: 'One version of a trigger',
      params: idParams.extend({ version: z.coerce.number().int().min(1) }),
      responses: { 200: { description: 'The version.', schema: triggerSchema }, 404: { description: 'No such trigger or version.' } },
      handler: async ({ params }) => ({ status: 200, body: present(await store.version(params.id, params.version)) }),
    });
  };
}
