/**
 * One firing of a scheduled trigger, end to end: the activity that the
 * `scheduledFiring` workflow calls (workflows/scheduled-firing.ts). It
 * claims the firing's summary, stores the `schedule.fired` event, and starts
 * the trigger's run, or for a sweep one run per matching account, through
 * the ingestor's `startFor` (so throttle and singleton apply); for a
 * sweep over records (`forEachRecord`) one run per matching record; the
 * sources of a sweep are sweep-sources.ts. Firings never
 * go through matching by event type: a firing reaches its own trigger only.
 *
 * Exactly once per firing: every event and run id is derived from the
 * trigger id and the scheduled time, so a retried attempt that starts a run
 * again finds it started; a sweep checkpoints its position and counts in
 * the activity's heartbeat after each batch, and a retry resumes there.
 */
import { Context } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import type { Ledger } from '../ledger';
import type { Logger } from '../logger';
import { isDomainError } from '../errors';
import { canonicalHash } from '../events/canonical-hash';
import { dispatchModel, eventModel, type DispatchDoc, type EventDoc } from '../events/event-store';
import type { EventIngestor, StartOutcome } from '../events/ingest';
import { driverCollection } from '../store';
import { SCHEDULE_FIRED } from '../triggers/event-sources';
import { compileFilter } from '../triggers/matcher';
import type { TriggerRecord, TriggerStore } from '../triggers/trigger-store';
import type { CustomerContext, EventEnvelope } from '../../workflows/types';
import { createRecordStore, type RecordStore } from '../records/record-store';
import { sweepSourceOf, withCustomer, type SweepItem, type SweepSource } from './sweep-sources';
import type { Customer } from '../customers';
import { customerContextOf } from '../customers/run-context';
import { createFiringStore, firingIdOf, ZERO_COUNTS, type FiringCounts, type FiringSummary } from './firing-store';

/** Runs a sweep starts at once: enough to keep Temporal busy, few enough not to swamp a 2-core dev server. */
export const SWEEP_START_CONCURRENCY = 16;
/** Accounts or records read, filtered and started per batch; the heartbeat checkpoint follows each batch. */
export const SWEEP_BATCH_SIZE = 200;

export interface FiringInput {
  triggerId: string;
  /** ISO time the firing is for; with the trigger id it names the firing and every id derived from it. */
  scheduledAt: string;
}

/** What every batch of one sweep shares: the firing, and its filters compiled once. */
interface SweepPlan {
  trigger: TriggerRecord;
  input: FiringInput;
  firingId: string;
  itemFilter: (target: EventEnvelope) => boolean;
  eventFilter: (event: EventEnvelope) => boolean;
  filterSeesCustomer: boolean;
}

/** What a retried sweep resumes from: the last item of the last finished batch, and the counts up to it. */
interface SweepCheckpoint {
  afterId: string;
  counts: FiringCounts;
}

export interface FiringDependencies {
  connection: Connection;
  triggers: Pick<TriggerStore, 'get'>;
  ledger: Pick<Ledger, 'sweepAccounts'>;
  /** Records for `forEachRecord` sweeps; default: the record store on `connection`. */
  records?: Pick<RecordStore, 'batches'>;
  ingestor: Pick<EventIngestor, 'startFor'>;
  /** Customer profiles by owner: a sweep's filter and runs see the owner's as `customer`; without it `customer` is absent. */
  customers?: { profileOf(ownerId: string): Promise<Customer | null> };
  logger?: Logger;
  clock?: () => Date;
}

function tally(counts: FiringCounts, outcomes: readonly StartOutcome[]): FiringCounts {
  return {
    matched: counts.matched + outcomes.length,
    started: counts.started + outcomes.filter((o) => 'run' in o).length,
    throttled: counts.throttled + outcomes.filter((o) => 'throttled' in o).length,
    skipped: counts.skipped + outcomes.filter((o) => 'skipped' in o).length,
  };
}

/** Runs `job` over `items` with at most `limit` in flight; results in input order. After a failure no new job starts. */
async function mapLimited<T, R>(items: readonly T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await job(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }));
  return results;
}

export function createFiringActivities(deps: FiringDependencies) {
  const firings = createFiringStore(deps.connection, deps.clock);
  const events = driverCollection(eventModel(deps.connection));
  const dispatches = driverCollection(dispatchModel(deps.connection));
  const now = deps.clock ?? (() => new Date());
  const readers = { ledger: deps.ledger, records: deps.records ?? createRecordStore(deps.connection) };

  /** Stores events as the ingestor would (same id, hash and shape); ids already stored are left as they are. */
  async function storeEvents(envelopes: readonly EventEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const receivedAt = now();
    const docs: EventDoc[] = envelopes.map((event) => ({
      _id: event.id, type: event.type, occurredAt: new Date(event.occurredAt), dataJson: JSON.stringify(event.data),
      bodyHash: canonicalHash({ type: event.type, occurredAt: event.occurredAt, data: event.data }), receivedAt, receivedBy: 'schedule',
    }));
    await insertAllowingDuplicates(() => events.insertMany(docs, { ordered: false }));
  }

  /** Records what each event started, so GET /v1/events/{id} shows it as for any event. */
  async function storeDispatches(entries: ReadonlyArray<{ eventId: string; outcome: StartOutcome | null }>): Promise<void> {
    if (entries.length === 0) return;
    const dispatchedAt = now();
    const docs: DispatchDoc[] = entries.map(({ eventId, outcome }) => ({
      _id: eventId, runs: outcome && 'run' in outcome ? [outcome.run] : [], signalled: [], alreadyClosed: [], released: [],
      ...(outcome && 'throttled' in outcome ? { throttled: [outcome.throttled] } : {}),
      ...(outcome && 'skipped' in outcome ? { skipped: [outcome.skipped] } : {}),
      dispatchedAt,
    }));
    await insertAllowingDuplicates(() => dispatches.insertMany(docs, { ordered: false }));
  }

  function firingEvent(input: FiringInput): EventEnvelope {
    return { id: firingIdOf(input.triggerId, input.scheduledAt), type: SCHEDULE_FIRED, occurredAt: input.scheduledAt, data: { scheduledAt: input.scheduledAt } };
  }

  /** A plain scheduled trigger: one run for the firing event, if its on.filter lets it through. */
  async function fireOnce(trigger: TriggerRecord, event: EventEnvelope): Promise<FiringCounts> {
    if (!compileFilter(trigger.on.filter)(event)) {
      await storeDispatches([{ eventId: event.id, outcome: null }]);
      return ZERO_COUNTS;
    }
    const outcome = await deps.ingestor.startFor(trigger, event);
    await storeDispatches([{ eventId: event.id, outcome }]);
    return tally(ZERO_COUNTS, [outcome]);
  }

  /** Profiles as runs see them, one _id read per item that has an owner; none without a customer directory. */
  async function profilesOf(items: readonly SweepItem[]): Promise<Array<CustomerContext | undefined>> {
    if (!deps.customers) return [];
    const profiles = await Promise.all(items.map((item) => (item.ownerId === null ? null : deps.customers!.profileOf(item.ownerId))));
    return profiles.map((profile) => (profile ? customerContextOf(profile) : undefined));
  }

  /**
   * One batch of a sweep: the items that match, their events stored, a
   * run started for each (SWEEP_START_CONCURRENCY at a time, `keepAlive`
   * after each start), and what was started recorded on the events.
   */
  async function sweepBatch(plan: SweepPlan, batch: readonly SweepItem[], keepAlive: () => void): Promise<StartOutcome[]> {
    const { trigger, input, firingId, itemFilter, eventFilter, filterSeesCustomer } = plan;
    const batchProfiles = filterSeesCustomer ? await profilesOf(batch) : [];
    const matchingIndexes = batch.flatMap((item, index) => (itemFilter(withCustomer(item.target, batchProfiles[index]) as unknown as EventEnvelope) ? [index] : []));
    const matching = matchingIndexes.map((index) => batch[index]!);
    const profiles = filterSeesCustomer ? matchingIndexes.map((index) => batchProfiles[index]) : await profilesOf(matching);
    const perItem = matching.map((item, index) => {
      const event = item.event(firingId, input.scheduledAt);
      return { event, options: { ...item.options, ...(profiles[index] ? { customer: profiles[index] } : {}) } };
    }).filter(({ event }) => eventFilter(event));
    await storeEvents(perItem.map(({ event }) => event));
    const outcomes = await mapLimited(perItem, SWEEP_START_CONCURRENCY, async ({ event, options }) => {
      const outcome = await deps.ingestor.startFor(trigger, event, options);
      keepAlive();
      return outcome;
    });
    await storeDispatches(perItem.map(({ event }, index) => ({ eventId: event.id, outcome: outcomes[index]! })));
    return outcomes;
  }

  /**
   * A sweep: one run per account of the unit, or record of the kind, that
   * matches, batch by batch. After each batch its last item and the counts so far are the
   * heartbeat's details, so a retry resumes after the last finished batch.
   */
  async function sweep(trigger: TriggerRecord, source: SweepSource, input: FiringInput, firingId: string, owner: string): Promise<FiringCounts> {
    const plan: SweepPlan = {
      trigger, input, firingId,
      itemFilter: compileFilter(source.filter),
      eventFilter: compileFilter(trigger.on.filter),
      // Profiles are read for every item only when the filter looks at them, else for the matching ones.
      filterSeesCustomer: JSON.stringify(source.filter ?? {}).includes('customer'),
    };
    const context = Context.current();
    let checkpoint = context.info.heartbeatDetails as SweepCheckpoint | undefined;
    let counts = checkpoint?.counts ?? ZERO_COUNTS;
    // Within a batch the heartbeat repeats the last checkpoint: Temporal sees the sweep alive, and a retry still resumes after a finished batch.
    const keepAlive = () => context.heartbeat(checkpoint);
    for await (const batch of source.batches({ batchSize: SWEEP_BATCH_SIZE, ...(checkpoint ? { afterId: checkpoint.afterId } : {}) })) {
      // A firing whose workflow was cancelled or terminated (seen through the heartbeat) stops between batches.
      context.cancellationSignal.throwIfAborted();
      counts = tally(counts, await sweepBatch(plan, batch, keepAlive));
      checkpoint = { afterId: batch.at(-1)!.position, counts };
      context.heartbeat(checkpoint);
      await firings.progress(firingId, owner, counts);
    }
    return counts;
  }

  return {
    /**
     * Fires a scheduled trigger for one scheduled time. Returns the firing's
     * summary; a firing another workflow has claimed (the schedule and a
     * `fire` for the same instant) is returned as it stands, doing nothing.
     */
    async fireTrigger(input: FiringInput): Promise<FiringSummary> {
      const execution = Context.current().info.workflowExecution;
      const owner = execution ? `${execution.workflowId}/${execution.runId}` : `standalone/${input.triggerId}`;
      let trigger: TriggerRecord;
      try {
        trigger = await deps.triggers.get(input.triggerId);
      } catch (error) {
        if (isDomainError(error) && error.code === 'trigger_not_found') return firings.notRun({ ...input, triggerVersion: null, owner, reason: 'trigger_deleted' });
        throw error;
      }
      if (!trigger.on.schedule) return firings.notRun({ ...input, triggerVersion: trigger.version, owner, reason: 'trigger_not_scheduled' });
      if (!trigger.enabled) return firings.notRun({ ...input, triggerVersion: trigger.version, owner, reason: 'trigger_disabled' });
      const source = sweepSourceOf(trigger, readers);
      const claim = await firings.claim({ ...input, triggerVersion: trigger.version, sweep: source !== undefined, owner });
      if (!claim.mine || claim.summary.status !== 'running') return claim.summary;
      const event = firingEvent(input);
      await storeEvents([event]);
      const counts = source ? await sweep(trigger, source, input, event.id, owner) : await fireOnce(trigger, event);
      if (source) await storeDispatches([{ eventId: event.id, outcome: null }]);
      const summary = await firings.complete(event.id, owner, counts);
      deps.logger?.info({ firingId: event.id, ...counts }, 'schedule firing completed');
      return summary;
    },

    /** Marks a firing failed once the workflow has given up on it, so its summary does not stay `running`. */
    async recordFiringFailure(input: FiringInput & { message: string }): Promise<void> {
      await firings.fail(firingIdOf(input.triggerId, input.scheduledAt), input.message);
    },
  };
}

export type FiringActivities = ReturnType<typeof createFiringActivities>;

/** An unordered insertMany whose only failures are duplicate ids (earlier attempts) is a success. */
async function insertAllowingDuplicates(insert: () => Promise<unknown>): Promise<void> {
  try {
    await insert();
  } catch (error) {
    const writeErrors = (error as { writeErrors?: Array<{ code?: number }> | { code?: number } }).writeErrors;
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw error;
  }
}

