import { Schema, type Connection } from 'mongoose';
import { olderThan, pageOf } from '../cursor';
import { DomainError } from '../errors';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';
import type { RenewalCounts } from '../subscriptions/renewal-sweep';

/**
 * What became of one firing of a scheduled trigger. `pending`: fired through
 * the API, not yet picked up by a worker; `running`: starting its runs (the
 * counts grow as a sweep goes); `completed`; `failed` (retries exhausted;
 * `error` says why); `not_run`: the trigger was disabled, deleted or
 * unscheduled by the time the firing ran (`reason`).
 */
export type FiringStatus = 'pending' | 'running' | 'completed' | 'failed' | 'not_run';

/** One firing: its id is `<triggerId>@<scheduledAt>`, the id of its `schedule.fired` event. */
export interface FiringSummary {
  firingId: string;
  triggerId: string;
  /** The trigger version the firing ran (null until it ran, or when the trigger was gone). */
  triggerVersion: number | null;
  /** ISO time the firing was scheduled for (the API's `fire`: when it was asked). */
  scheduledAt: string;
  /** True for a sweep (`forEachAccount`): one run per matching account. */
  sweep: boolean;
  status: FiringStatus;
  /** Events that matched: 1 or 0 for a plain firing; accounts that matched for a sweep. */
  matched: number;
  /** Runs started (or found already started by an earlier attempt of the same firing). */
  started: number;
  /** Matches a throttle held back. */
  throttled: number;
  /** Matches a singleton held back. */
  skipped: number;
  startedAt: string | null;
  finishedAt: string | null;
  reason?: 'trigger_disabled' | 'trigger_deleted' | 'trigger_not_scheduled';
  error?: string;
  /** What the firing's run reported, once a task that reports (subscription_renewals) has finished in it. */
  report?: FiringReport;
}

/**
 * The counts a `subscription_renewals` task of the firing's run output,
 * copied onto the firing when the task finishes (a retried task overwrites
 * them with its own). Absent until then, and on firings whose run has no
 * such task.
 */
export type FiringReport = RenewalCounts & {
  /** The task's id in the trigger. */
  taskId: string;
  type: 'subscription_renewals';
  /** ISO time the task finished. */
  finishedAt: string;
};

/** The counts a firing adds up; a sweep checkpoints them with its position. */
export interface FiringCounts {
  matched: number;
  started: number;
  throttled: number;
  skipped: number;
}

export const ZERO_COUNTS: FiringCounts = { matched: 0, started: 0, throttled: 0, skipped: 0 };

interface FiringDoc extends FiringCounts {
  _id: string;
  triggerId: string;
  triggerVersion: number | null;
  scheduledAt: Date;
  sweep: boolean;
  status: FiringStatus;
  /** The firing workflow execution (`<workflowId>/<runId>`) doing the work; null while pending. */
  owner: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  reason?: FiringSummary['reason'];
  error?: string;
  report?: FiringReport;
  createdAt: Date;
}

const firingSchema = new Schema<FiringDoc>(
  {
    _id: String,
    triggerId: { type: String, required: true, index: true },
    triggerVersion: { type: Number, default: null },
    scheduledAt: { type: Date, required: true },
    sweep: { type: Boolean, required: true },
    status: { type: String, required: true },
    owner: { type: String, default: null },
    matched: { type: Number, required: true },
    started: { type: Number, required: true },
    throttled: { type: Number, required: true },
    skipped: { type: Number, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    reason: { type: String },
    error: { type: String },
    report: { type: Schema.Types.Mixed },
    createdAt: { type: Date, required: true },
  },
  { collection: 'schedule_firings', versionKey: false },
);

/** The firing id, which is also the id of its `schedule.fired` event. */
export function firingIdOf(triggerId: string, scheduledAt: string): string {
  return `${triggerId}@${scheduledAt}`;
}

function viewOf(doc: FiringDoc): FiringSummary {
  return {
    firingId: doc._id,
    triggerId: doc.triggerId,
    triggerVersion: doc.triggerVersion ?? null,
    scheduledAt: doc.scheduledAt.toISOString(),
    sweep: doc.sweep,
    status: doc.status,
    matched: doc.matched,
    started: doc.started,
    throttled: doc.throttled,
    skipped: doc.skipped,
    startedAt: doc.startedAt ? doc.startedAt.toISOString() : null,
    finishedAt: doc.finishedAt ? doc.finishedAt.toISOString() : null,
    ...(doc.reason ? { reason: doc.reason } : {}),
    ...(doc.error ? { error: doc.error } : {}),
    ...(doc.report ? { report: doc.report } : {}),
  };
}

/** What a worker's claim on a firing found. */
export type Claim = { mine: true; summary: FiringSummary } | { mine: false; summary: FiringSummary };

/**
 * Firing summaries, one document per firing (`_id` = firing id). The first
 * insert wins; after that the document changes only by single-document
 * updates conditional on its owner, so two workflows that run the same
 * firing (a scheduled one and a `fire` for the same instant) never both do
 * the work: the second finds the first's summary and returns it.
 */
export function createFiringStore(connection: Connection, clock: () => Date = () => new Date()) {
  const firings = modelOn(connection, 'ScheduleFiring', firingSchema);
  const records = driverCollection(firings);

  async function read(firingId: string): Promise<FiringDoc | null> {
    return firings.findById(firingId).lean<FiringDoc>();
  }

  return {
    async ensureIndexes(): Promise<void> {
      await firings.createIndexes();
    },

    /** Records a firing asked for through the API before its workflow starts; false when it exists already. */
    async addPending(input: { triggerId: string; scheduledAt: string; sweep: boolean }): Promise<boolean> {
      const now = clock();
      try {
        await records.insertOne({ _id: firingIdOf(input.triggerId, input.scheduledAt), triggerId: input.triggerId, triggerVersion: null, scheduledAt: new Date(input.scheduledAt), sweep: input.sweep, status: 'pending', owner: null, ...ZERO_COUNTS, startedAt: null, finishedAt: null, createdAt: now });
        return true;
      } catch (error) {
        if (isDuplicateKeyError(error)) return false;
        throw error;
      }
    },

    /**
     * Makes `owner` the one doing this firing: a new firing, a pending one
     * (from the API), or its own from an earlier attempt. Any other owner's
     * firing is returned as it stands, `mine: false`.
     */
    async claim(input: { triggerId: string; triggerVersion: number; scheduledAt: string; sweep: boolean; owner: string }): Promise<Claim> {
      const firingId = firingIdOf(input.triggerId, input.scheduledAt);
      const now = clock();
      const running = { triggerVersion: input.triggerVersion, sweep: input.sweep, status: 'running' as const, owner: input.owner, startedAt: now };
      try {
        await records.insertOne({ _id: firingId, triggerId: input.triggerId, scheduledAt: new Date(input.scheduledAt), ...ZERO_COUNTS, finishedAt: null, createdAt: now, ...running });
        return { mine: true, summary: viewOf((await read(firingId))!) };
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      await firings.updateOne({ _id: firingId, status: 'pending' }, { $set: running });
      const doc = await read(firingId);
      if (!doc) throw new Error(`firing ${firingId} vanished after a duplicate-key error`);
      return { mine: doc.owner === input.owner, summary: viewOf(doc) };
    },

    /** Records a firing that started nothing because its trigger was disabled, deleted or unscheduled. */
    async notRun(input: { triggerId: string; triggerVersion: number | null; scheduledAt: string; owner: string; reason: NonNullable<FiringSummary['reason']> }): Promise<FiringSummary> {
      const firingId = firingIdOf(input.triggerId, input.scheduledAt);
      const now = clock();
      const outcome = { triggerVersion: input.triggerVersion, status: 'not_run' as const, owner: input.owner, reason: input.reason, startedAt: now, finishedAt: now };
      try {
        await records.insertOne({ _id: firingId, triggerId: input.triggerId, scheduledAt: new Date(input.scheduledAt), sweep: false, ...ZERO_COUNTS, createdAt: now, ...outcome });
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        await firings.updateOne({ _id: firingId, status: 'pending' }, { $set: outcome });
      }
      return viewOf((await read(firingId))!);
    },

    /** The counts so far of a running firing (a sweep's progress). */
    async progress(firingId: string, owner: string, counts: FiringCounts): Promise<void> {
      await firings.updateOne({ _id: firingId, owner, status: 'running' }, { $set: counts });
    },

    async complete(firingId: string, owner: string, counts: FiringCounts): Promise<FiringSummary> {
      await firings.updateOne({ _id: firingId, owner, status: 'running' }, { $set: { ...counts, status: 'completed', finishedAt: clock() } });
      return viewOf((await read(firingId))!);
    },

    /** Marks a firing failed once its retries are spent; a firing already finished is left as it is. */
    async fail(firingId: string, message: string): Promise<void> {
      await firings.updateOne({ _id: firingId, status: { $in: ['pending', 'running'] } }, { $set: { status: 'failed', error: message.slice(0, 1000), finishedAt: clock() } });
    },

    /**
     * Puts a run's report on its firing (`firingId` is the id of the run's
     * `schedule.fired` event); an event that is no firing of `triggerId`
     * changes nothing. Leaves status and counts alone, so it does not
     * matter whether the firing has completed by then.
     */
    async recordReport(firingId: string, triggerId: string, report: FiringReport): Promise<void> {
      await firings.updateOne({ _id: firingId, triggerId }, { $set: { report } });
    },

    async get(triggerId: string, firingId: string): Promise<FiringSummary> {
      const doc = await read(firingId);
      if (!doc || doc.triggerId !== triggerId) throw new DomainError('firing_not_found', 'not_found', `Trigger "${triggerId}" has no firing "${firingId}".`);
      return viewOf(doc);
    },

    /** The trigger's firings, newest scheduled time first. */
    async list(triggerId: string, page: { limit: number; cursor?: string }): Promise<{ items: FiringSummary[]; nextCursor: string | null }> {
      const docs = await firings.find({ triggerId, ...olderThan(page.cursor, 'scheduledAt') }).sort({ scheduledAt: -1, _id: -1 }).limit(page.limit + 1).lean<FiringDoc[]>();
      const result = pageOf(docs, page.limit, (doc) => ({ at: doc.scheduledAt, id: doc._id }));
      return { items: result.items.map(viewOf), nextCursor: result.nextCursor };
    },
  };
}

export type FiringStore = ReturnType<typeof createFiringStore>;
