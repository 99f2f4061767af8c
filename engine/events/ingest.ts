import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import { DomainError } from '../errors';
import { groupInsert } from '../group-insert';
import { driverCollection, isDuplicateKeyError } from '../store';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { FilterCache, filterReadsOwner, matchSubject, matchTriggers, type FilterError } from '../triggers/matcher';
import { snapshotOf, type TriggerRecord, type TriggerStore } from '../triggers/trigger-store';
import { eventIdKey, triggerIdKey } from '../../workflows/search-attributes';
import { eventRoutesOf, planTasks, runsInWorker } from '../../tasks/registry';
import { runDetails, runSummary } from '../../workflows/summaries';
import { cancelRequestSignal, eventArrivedSignal, triggerRun } from '../../workflows/trigger-run';
import type { AccountContext, CancelRequest, CustomerContext, EventEnvelope, PackageSelection, RunCause, TriggerRunInput } from '../../workflows/types';
import { triggerNamesOwner } from '../customers/owner-reads';
import type { OwnerContextLoader } from '../customers/run-context';
import { createPackageStore } from '../packages/package-store';
import { creditsPackage } from '../../tasks/account';
import { canonicalHash } from './canonical-hash';
import { dispatchModel, eventModel, viewOf, type DispatchDoc, type EventDoc, type EventView, type RunRef } from './event-store';
import { createCancelIndex, type CancelRoute, type CorrelationKey } from './cancel-index';
import { createEventWaits, type Release } from './event-waits';
import { createRunGates } from './run-gates';
import { RoutingCache } from './routing-cache';

export interface EventInput {
  id: string;
  type: string;
  occurredAt?: string;
  data: Record<string, unknown>;
}

/** The triggers listening to an event type and the cancel routes of that type, read together (routingOf). */
export interface Routing {
  listening: TriggerRecord[];
  routes: CancelRoute[];
}

/** A match that started nothing because its trigger's throttle window for the key is taken. */
export interface ThrottledMatch {
  triggerId: string;
  key: string;
  /** When the window ends (ISO). */
  until: string;
}

/** A match that started nothing because the trigger's run for the same singleton key is still open. */
export interface SkippedMatch {
  triggerId: string;
  key: string;
  reason: 'run_open';
  workflowId: string;
}

export interface IngestResult {
  eventId: string;
  duplicate: boolean;
  runs: RunRef[];
  signalled: string[];
  /** Runs whose wait_for_event task this event released. */
  released: string[];
  /** Matches that a trigger's throttle held back. */
  throttled: ThrottledMatch[];
  /** Matches that a trigger's singleton held back. */
  skipped: SkippedMatch[];
}

/** What starting one trigger's run for one event did. */
export type StartOutcome = { run: RunRef } | { throttled: ThrottledMatch } | { skipped: SkippedMatch };

/** What a run of an internal event (or a sweep) carries besides the event. */
export interface RunOptions {
  account?: AccountContext;
  customer?: CustomerContext;
  cause?: RunCause;
  /** The owner context was not read: no matched trigger names it (TriggerRunInput.ownerDeferred). */
  ownerDeferred?: true;
}

export interface IngestDependencies {
  connection: Connection;
  triggers: TriggerStore;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Counts events by outcome and runs started by trigger. */
  metrics?: Pick<Metrics, 'event' | 'runStarted'>;
  clock?: () => Date;
  /** Loads the profile and account of the owner an event names (`customer` and `account` in its runs' context); see engine/customers/run-context.ts. */
  ownerContext?: OwnerContextLoader;
  /** How long a cancellation is held for runs that start after it (CANCEL_HOLD_HOURS; default 24 hours); see cancel-index.ts. */
  cancelHoldMs?: number;
}

/** The run for one trigger and one event: the same inputs always name the same workflow. */
export function workflowIdFor(triggerId: string, eventId: string): string {
  return `${triggerId}:${eventId}`;
}

/**
 * Stores an event (its id is the dedupe key), starts one run per matching
 * trigger with a deterministic workflow id, and signals the waiting runs it
 * cancels. Every step is idempotent, so a retried POST, or two API replicas
 * racing on the same event, start exactly one run per trigger.
 */
export function createEventIngestor(deps: IngestDependencies) {
  const events = eventModel(deps.connection);
  const dispatches = dispatchModel(deps.connection);
  // Each event is one insert and one dispatch record on the hot path: through the driver.
  const eventRecords = driverCollection(events);
  const dispatchRecords = driverCollection(dispatches);
  const cancelIndex = createCancelIndex(deps.connection, { ...(deps.cancelHoldMs !== undefined ? { holdMs: deps.cancelHoldMs } : {}), ...(deps.clock ? { clock: deps.clock } : {}) });
  const eventWaits = createEventWaits(deps.connection, cancelIndex);
  const filters = new FilterCache();
  const packages = createPackageStore(deps.connection);
  const now = deps.clock ?? (() => new Date());

  /** Stores the event unless its id is taken; `dispatched` stores it already dispatched (EventDoc.dispatch). */
  async function store(input: EventInput, actor: string, dispatched?: boolean): Promise<{ doc: EventDoc; duplicate: boolean }> {
    const bodyHash = canonicalHash({ type: input.type, occurredAt: input.occurredAt ?? null, data: input.data });
    const receivedAt = now();
    const doc: EventDoc = {
      _id: input.id, type: input.type, occurredAt: input.occurredAt ? new Date(input.occurredAt) : receivedAt, dataJson: JSON.stringify(input.data),
      bodyHash, receivedAt, receivedBy: actor,
      ...(dispatched ? { dispatch: { runs: [], signalled: [], alreadyClosed: [], released: [], dispatchedAt: receivedAt } } : {}),
    };
    try {
      await groupInsert(eventRecords).insert({ ...doc });
      return { doc, duplicate: false };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const existing = await events.findById(input.id).lean<EventDoc>();
    if (!existing) throw new Error(`event ${input.id} vanished after a duplicate-key error`);
    if (existing.bodyHash !== bodyHash) {
      throw new DomainError('event_conflict', 'conflict', `An event with id "${input.id}" was already received with a different body.`, [{ path: 'id', message: 'already used by a different event' }]);
    }
    return { doc: existing, duplicate: true };
  }

  /** The input of a trigger's run for an event: its version of the trigger, each task with the execution its kind prescribes. */
  function runInputFor(trigger: TriggerRecord, event: EventEnvelope, options: RunOptions, selectedPackage: PackageSelection | undefined): TriggerRunInput {
    const version = snapshotOf(trigger);
    return {
      trigger: { ...version, tasks: planTasks(version.tasks), ...(version.onLateCancel ? { onLateCancel: { ...version.onLateCancel, tasks: planTasks(version.onLateCancel.tasks) } } : {}) },
      event,
      ...(options.account ? { account: options.account } : {}),
      ...(options.customer ? { customer: options.customer } : {}),
      ...(options.cause ? { cause: options.cause } : {}),
      ...(options.ownerDeferred ? { ownerDeferred: true } : {}),
      ...(selectedPackage ? { package: selectedPackage } : {}),
      ...(version.cancelOn && runsInWorker([...version.tasks, ...(version.onLateCancel?.tasks ?? [])]) ? (version.wait.seconds === 0 ? { runningFromStart: true } : { tasksBeginRecorded: true }) : {}),
    };
  }

  /**
   * Starts the run of this input; a run already started under its id is
   * left as it is. A run that can be cancelled writes its waiter slots first,
   * then looks for a cancellation held for its value (one that came first):
   * found before the start, the run starts cancelled and ends without tasks;
   * found only after it (it was held while the run started), the run is
   * cancelled like any waiting run.
   */
  async function launch(input: TriggerRunInput): Promise<void> {
    const { trigger, event } = input;
    const workflowId = workflowIdFor(trigger.id, event.id);
    if (trigger.cancelOn) await cancelIndex.addWaiter(trigger.cancelOn, event, workflowId);
    const heldBefore = trigger.cancelOn ? await cancelIndex.heldFor(trigger.cancelOn, event) : undefined;
    // Routes for the run's waits exist before it starts, so no awaited event can slip past unrecorded.
    for (const route of eventRoutesOf([...trigger.tasks, ...(trigger.onLateCancel?.tasks ?? [])])) await eventWaits.ensureRoutes(route.types, route.path);
    try {
      await deps.temporal.workflow.start(triggerRun, {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [heldBefore ? { ...input, heldCancellation: heldBefore } : input],
        staticSummary: runSummary(trigger, event),
        staticDetails: runDetails(trigger, event),
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: new TypedSearchAttributes([{ key: triggerIdKey, value: trigger.id }, { key: eventIdKey, value: event.id }]),
      });
      deps.metrics?.runStarted(trigger.id);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    if (!trigger.cancelOn) return;
    const held = heldBefore ?? (await cancelIndex.heldFor(trigger.cancelOn, event));
    if (held) await cancel(workflowId, held);
  }

  const gates = createRunGates({ connection: deps.connection, temporal: deps.temporal, launch, ...(deps.clock ? { clock: deps.clock } : {}) });

  /** Starts one trigger's run for one event, unless its throttle or singleton holds it back. */
  async function startFor(trigger: TriggerRecord, event: EventEnvelope, options: RunOptions = {}): Promise<StartOutcome> {
    const workflowId = workflowIdFor(trigger.id, event.id);
    // The package is chosen now, at match time: the run carries its snapshot, so an edit during the run's wait changes nothing for it.
    const selectedPackage = creditsPackage([...trigger.tasks, ...(trigger.onLateCancel?.tasks ?? [])]) ? await packages.selectFor(event) : undefined;
    const input = runInputFor(trigger, event, options, selectedPackage);
    if (trigger.throttle || trigger.singleton) {
      const decision = await gates.admit({ triggerId: trigger.id, ...(trigger.throttle ? { throttle: trigger.throttle } : {}), ...(trigger.singleton ? { singleton: trigger.singleton } : {}), event, workflowId, input });
      if ('throttled' in decision) return decision;
      if ('skipped' in decision) return decision;
    }
    await launch(input);
    return { run: { triggerId: trigger.id, triggerVersion: trigger.version, workflowId } };
  }

  /**
   * Starts a run per matching trigger. A filter that throws, or one left
   * when the matching budget is spent, is no match for its trigger alone:
   * it is logged and recorded on the dispatch, and the other triggers run.
   */
  async function startRuns(event: EventEnvelope, options: RunOptions, listening: readonly TriggerRecord[]): Promise<{ runs: RunRef[]; throttled: ThrottledMatch[]; skipped: SkippedMatch[]; filterErrors: FilterError[] }> {
    // The owner's profile and account are read once per event: before matching when a filter reads
    // them (`customer.autoTopUp.threshold`), else only when a matched trigger names them
    // (owner-reads.ts). Otherwise the runs go without, marked `ownerDeferred` for their emails.
    const loads = deps.ownerContext !== undefined && !options.customer;
    const loadOwner = async () => (loads ? deps.ownerContext!(event, options.account) : {});
    let owner = listening.some((trigger) => filterReadsOwner(trigger.on.filter)) ? await loadOwner() : undefined;
    const { matched, errors } = matchTriggers(listening, owner ? matchSubject(event, { ...owner, ...options }) : event, filters);
    for (const error of errors) deps.logger.warn({ eventId: event.id, ...error }, 'trigger filter not evaluated to a match');
    owner ??= matched.some(triggerNamesOwner) ? await loadOwner() : loads && matched.length > 0 ? { ownerDeferred: true as const } : {};
    const outcomes = await Promise.all(matched.map((trigger) => startFor(trigger, event, { ...owner, ...options })));
    return {
      runs: outcomes.flatMap((outcome) => ('run' in outcome ? [outcome.run] : [])),
      throttled: outcomes.flatMap((outcome) => ('throttled' in outcome ? [outcome.throttled] : [])),
      skipped: outcomes.flatMap((outcome) => ('skipped' in outcome ? [outcome.skipped] : [])),
      filterErrors: errors,
    };
  }

  async function cancel(workflowId: string, request: CancelRequest): Promise<boolean> {
    const handle = deps.temporal.workflow.getHandle(workflowId);
    try {
      await handle.signal(cancelRequestSignal, request);
      await handle.cancel();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false; // the run has already closed
      throw error;
    }
  }

  /** Signals every run this event cancels; runs that have already closed are listed apart. */
  async function signalCancellations(event: EventEnvelope, keys: readonly CorrelationKey[], startedNow: Set<string>): Promise<{ signalled: string[]; alreadyClosed: string[] }> {
    const targets = (await cancelIndex.waitersForKeys(keys)).filter((workflowId) => !startedNow.has(workflowId));
    const outcomes = await Promise.all(targets.map(async (workflowId) => ({ workflowId, open: await cancel(workflowId, { eventId: event.id, eventType: event.type }) })));
    return {
      signalled: outcomes.filter((o) => o.open).map((o) => o.workflowId),
      alreadyClosed: outcomes.filter((o) => !o.open).map((o) => o.workflowId),
    };
  }

  const routingCache = new RoutingCache<Routing>(async (type) => {
    const [listening, routes] = await Promise.all([deps.triggers.listeningTo(type), cancelIndex.routesFor(type)]);
    return { listening, routes };
  });

  /**
   * What events of a type are routed to now. Events ingested with it see
   * every trigger and route whose write had answered before it was asked
   * for: a caller that asks once for a batch must ask after it learned of
   * the batch's events (the balance pump asks after the marks of a poll).
   * It is read once per lease (routing-cache.ts), not once per event; the
   * answer is frozen.
   */
  function routingOf(type: string): Promise<Routing> {
    return routingCache.get(type);
  }

  /** Signals each run whose wait_for_event this event releases; a run that has closed needs nothing. */
  async function signalReleases(event: EventEnvelope, releases: readonly Release[]): Promise<string[]> {
    const released = await Promise.all(releases.map(async (release) => {
      try {
        await deps.temporal.workflow.getHandle(release.workflowId).signal(eventArrivedSignal, { path: release.path, value: release.value, event });
        return release.workflowId;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
    }));
    return [...new Set(released.filter((workflowId): workflowId is string => workflowId !== undefined))];
  }

  return {
    /**
     * Stores and dispatches one event. `options` come with internal events
     * (a balance change names its account, and its cause when a run posted
     * the entry); a client's events have none.
     */
    async ingest(input: EventInput, actor: string, options: RunOptions = {}, routing?: Routing): Promise<IngestResult> {
      // An internal event (a balance change: it has a cause) reads what its type routes to first, unless
      // its caller read that for a batch of such events (`routing`, see routingOf). When no trigger
      // listens and nothing routes it, its dispatch can do nothing, so the event is stored already
      // dispatched: one insert instead of two. Nobody waits on an internal event's answer.
      const early = routing ?? (options.cause ? await routingOf(input.type) : undefined);
      const quiet = early !== undefined && early.listening.length === 0 && early.routes.length === 0;
      // Otherwise what the type routes to is asked for while the event is stored (when the lease ran
      // out, a read in the time of the insert). A duplicate simply does not use it.
      const [{ doc, duplicate }, { listening, routes }] = await Promise.all([store(input, actor, quiet), early ?? routingOf(input.type)]);
      if (quiet && !duplicate) {
        deps.logger.info({ eventId: doc._id, type: doc.type, runs: 0, signalled: 0, duplicate }, 'event dispatched');
        deps.metrics?.event(doc.type, 'no_match');
        return { eventId: doc._id, duplicate, runs: [], signalled: [], released: [], throttled: [], skipped: [] };
      }
      const done = duplicate ? (doc.dispatch ?? (await dispatches.findById(doc._id).lean<DispatchDoc>())) : null;
      if (done) {
        deps.metrics?.event(doc.type, 'duplicate');
        return { eventId: doc._id, duplicate, runs: done.runs, signalled: done.signalled, released: done.released ?? [], throttled: done.throttled ?? [], skipped: done.skipped ?? [] };
      }
      const event: EventEnvelope = { id: doc._id, type: doc.type, occurredAt: doc.occurredAt.toISOString(), data: JSON.parse(doc.dataJson) as Record<string, unknown> };
      const { runs: started, throttled, skipped, filterErrors } = await startRuns(event, options, listening);
      const keys = cancelIndex.keysAt(event, routes);
      // Held before the waiters are read: a run that starts meanwhile finds the hold (see launch).
      if (keys.length > 0) await cancelIndex.hold(event, keys);
      const { signalled, alreadyClosed } = await signalCancellations(event, keys, new Set(started.map((run) => run.workflowId)));
      const released = await signalReleases(event, await eventWaits.deliver(event, keys, doc.receivedAt));
      try {
        await groupInsert(dispatchRecords).insert({
          _id: doc._id, runs: started, signalled, alreadyClosed, released,
          ...(throttled.length > 0 ? { throttled } : {}), ...(skipped.length > 0 ? { skipped } : {}), ...(filterErrors.length > 0 ? { filterErrors } : {}),
          dispatchedAt: now(),
        });
      } catch (error) {
        // A racing replica finished the same dispatch first; both started the same runs.
        if (!isDuplicateKeyError(error)) throw error;
      }
      deps.logger.info({ eventId: doc._id, type: doc.type, runs: started.length, signalled: signalled.length, duplicate }, 'event dispatched');
      deps.metrics?.event(doc.type, duplicate ? 'duplicate' : started.length > 0 ? 'started' : signalled.length > 0 ? 'signalled' : 'no_match');
      return { eventId: doc._id, duplicate, runs: started, signalled, released, throttled, skipped };
    },

    routingOf,

    startFor,

    async get(id: string): Promise<EventView> {
      const [doc, dispatch] = await Promise.all([events.findById(id).lean<EventDoc>(), dispatches.findById(id).lean<DispatchDoc>()]);
      if (!doc) throw new DomainError('event_not_found', 'not_found', `No event with id "${id}".`);
      return viewOf(doc, dispatch);
    },

    async ensureIndexes(): Promise<void> {
      await events.createIndexes();
    },

    cancelIndex,
  };
}

export type EventIngestor = ReturnType<typeof createEventIngestor>;
