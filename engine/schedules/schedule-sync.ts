/**
 * Keeps one Temporal Schedule per scheduled trigger in step with the
 * trigger: created with it, updated with each new version (the version is
 * in the action's memo), paused while it is disabled, deleted with it or
 * when a version drops `on.schedule`. This module owns that mechanism end
 * to end: the API calls `sync` after each save, and workers call
 * `reconcile` at start and every RECONCILE_INTERVAL_MS, which heals a save
 * whose sync failed or never ran (a crash between the two, Temporal down).
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle, type ScheduleOptions, type ScheduleUpdateOptions } from '@temporalio/client';
import type { Logger } from '../logger';
import type { ScheduleSpec } from '../triggers/event-sources';
import type { TriggerRecord, TriggerStore } from '../triggers/trigger-store';
import { scheduledFiring } from '../../workflows/scheduled-firing';

/** Every Creditflow schedule's id starts so; the rest is the trigger id. */
export const SCHEDULE_ID_PREFIX = 'creditflow-trigger:';
/** Firing workflows started by a schedule are named so (Temporal appends the scheduled time). */
export const FIRING_WORKFLOW_PREFIX = 'creditflow-firing:';
/**
 * How late a firing may still run: one missed while Temporal or every
 * worker was down runs when they are back within this window; older ones
 * are dropped (POST /v1/triggers/{id}/fire with `scheduledAt` replays one).
 */
export const CATCHUP_WINDOW_MS = 60 * 60 * 1000;
/** How often a worker reconciles schedules after its start. */
export const RECONCILE_INTERVAL_MS = 10 * 60 * 1000;
/** Upcoming firing times GET /v1/triggers/{id} shows. */
export const NEXT_FIRE_TIMES = 5;

export function scheduleIdOf(triggerId: string): string {
  return `${SCHEDULE_ID_PREFIX}${triggerId}`;
}

export type SyncOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';
/** What one reconciliation pass did, by outcome; `failed` counts triggers whose sync threw (logged, retried next pass). */
export type ReconcileCounts = Record<SyncOutcome | 'failed', number>;

export interface ScheduleState {
  scheduleId: string;
  /** `active`, `paused` (trigger disabled), `missing` (not created yet: the next reconciliation creates it). */
  state: 'active' | 'paused' | 'missing';
  /** Upcoming firing times (ISO), soonest first; empty unless active. */
  nextFireTimes: string[];
}

export interface ScheduleSyncDependencies {
  client: Client;
  /** The task queue firings run on; also tells this deployment's schedules from another's in the same namespace. */
  taskQueue: string;
  logger: Logger;
}

/** A schedule whose action memo names a newer trigger version than the one being synced. */
class NewerVersionScheduled extends Error {}

function specOf(schedule: ScheduleSpec): ScheduleOptions['spec'] {
  // Intervals count from the Unix epoch: `everySeconds: 86400` fires at 00:00 UTC.
  return 'cron' in schedule ? { cronExpressions: [schedule.cron], timezone: schedule.timezone } : { intervals: [{ every: schedule.everySeconds * 1000 }] };
}

function versionIn(description: Pick<ScheduleDescription, 'action'>): number | undefined {
  const version = description.action.memo?.triggerVersion;
  return typeof version === 'number' ? version : undefined;
}

export function createScheduleSync(deps: ScheduleSyncDependencies) {
  const schedules = deps.client.schedule;

  function optionsFor(trigger: TriggerRecord): ScheduleUpdateOptions {
    return {
      spec: specOf(trigger.on.schedule!),
      action: {
        type: 'startWorkflow',
        workflowType: scheduledFiring,
        workflowId: `${FIRING_WORKFLOW_PREFIX}${trigger.id}`,
        taskQueue: deps.taskQueue,
        args: [{ triggerId: trigger.id }],
        memo: { triggerId: trigger.id, triggerVersion: trigger.version },
        staticSummary: `Firing of trigger "${trigger.name}" (${trigger.id})`,
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW_MS },
      state: { paused: !trigger.enabled, note: trigger.enabled ? `trigger ${trigger.id} v${trigger.version}` : `trigger ${trigger.id} is disabled (v${trigger.version})` },
    };
  }

  async function describe(handle: ScheduleHandle): Promise<ScheduleDescription | null> {
    try {
      return await handle.describe();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return null;
      throw error;
    }
  }

  async function remove(triggerId: string): Promise<SyncOutcome> {
    try {
      await schedules.getHandle(scheduleIdOf(triggerId)).delete();
      return 'deleted';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'absent';
      throw error;
    }
  }

  async function upsert(trigger: TriggerRecord): Promise<SyncOutcome> {
    const handle = schedules.getHandle(scheduleIdOf(trigger.id));
    const current = await describe(handle);
    if (!current) {
      try {
        await schedules.create({ scheduleId: handle.scheduleId, memo: { creditflowTaskQueue: deps.taskQueue, triggerId: trigger.id }, ...optionsFor(trigger) });
        return 'created';
      } catch (error) {
        if (!(error instanceof ScheduleAlreadyRunning)) throw error; // a concurrent sync created it: update it below
      }
    } else if (versionIn(current) === trigger.version && current.state.paused === !trigger.enabled) {
      return 'unchanged';
    }
    try {
      await handle.update((previous) => {
        // Two saves racing: the later version's sync may land first; never go back.
        if ((versionIn(previous) ?? 0) > trigger.version) throw new NewerVersionScheduled();
        return optionsFor(trigger);
      });
      return 'updated';
    } catch (error) {
      if (error instanceof NewerVersionScheduled) return 'unchanged';
      throw error;
    }
  }

  /** Brings the trigger's schedule in step with this version of it (or removes it: deleted, or no on.schedule). */
  async function sync(triggerId: string, trigger: TriggerRecord | null): Promise<SyncOutcome> {
    return trigger?.on.schedule ? upsert(trigger) : remove(triggerId);
  }

  return {
    sync,

    /**
     * `sync` after an API save: a Temporal failure is logged, never thrown,
     * so the saved trigger stands; the next reconciliation makes the
     * schedule match it. Bounded by `timeoutMs` so a request never hangs on
     * an unreachable Temporal.
     */
    async syncAfterSave(triggerId: string, trigger: TriggerRecord | null, timeoutMs = 5_000): Promise<void> {
      try {
        await deps.client.connection.withDeadline(Date.now() + timeoutMs, () => sync(triggerId, trigger));
      } catch (error) {
        deps.logger.warn({ err: error, triggerId }, 'trigger saved, but its Temporal schedule could not be synced; worker reconciliation will');
      }
    },

    /** The schedule's state and next firing times from Temporal (for GET /v1/triggers/{id}); rejects after `timeoutMs`. */
    async stateOf(triggerId: string, timeoutMs = 3_000): Promise<ScheduleState> {
      const scheduleId = scheduleIdOf(triggerId);
      const description = await deps.client.connection.withDeadline(Date.now() + timeoutMs, () => describe(schedules.getHandle(scheduleId)));
      if (!description) return { scheduleId, state: 'missing', nextFireTimes: [] };
      if (description.state.paused) return { scheduleId, state: 'paused', nextFireTimes: [] };
      return { scheduleId, state: 'active', nextFireTimes: description.info.nextActionTimes.slice(0, NEXT_FIRE_TIMES).map((time) => time.toISOString()) };
    },

    /**
     * Creates missing schedules, updates stale ones, and deletes schedules of
     * this deployment (prefix and task queue) whose trigger is gone or no
     * longer scheduled. A trigger is read again before its schedule is
     * deleted, so one created during the pass keeps its schedule. One
     * trigger whose schedule Temporal refuses does not stop the others.
     */
    async reconcile(triggers: Pick<TriggerStore, 'listScheduled' | 'get'>): Promise<ReconcileCounts> {
      const counts: ReconcileCounts = { created: 0, updated: 0, unchanged: 0, deleted: 0, absent: 0, failed: 0 };
      const live = await triggers.listScheduled();
      for (const trigger of live) {
        try {
          counts[await upsert(trigger)] += 1;
        } catch (error) {
          counts.failed += 1;
          deps.logger.warn({ err: error, triggerId: trigger.id }, 'could not reconcile the trigger\'s schedule');
        }
      }
      const liveIds = new Set(live.map((trigger) => trigger.id));
      for await (const summary of schedules.list()) {
        if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX) || summary.memo?.creditflowTaskQueue !== deps.taskQueue) continue;
        const triggerId = summary.scheduleId.slice(SCHEDULE_ID_PREFIX.length);
        if (liveIds.has(triggerId)) continue;
        const current = await triggers.get(triggerId).catch(() => null);
        counts[await sync(triggerId, current)] += 1;
      }
      return counts;
    },
  };
}

export type ScheduleSync = ReturnType<typeof createScheduleSync>;

/**
 * Reconciles now and then every `intervalMs`, logging what changed and any
 * failure (a failed pass is retried at the next tick). Returns a stop function.
 */
export function reconcileSchedulesPeriodically(sync: ScheduleSync, triggers: Pick<TriggerStore, 'listScheduled' | 'get'>, logger: Logger, intervalMs = RECONCILE_INTERVAL_MS): () => void {
  let running: Promise<void> | undefined;
  const pass = () => {
    running ??= sync.reconcile(triggers)
      .then((counts) => logger.info({ schedules: counts }, 'schedules reconciled'))
      .catch((error: unknown) => logger.warn({ err: error }, 'schedule reconciliation failed; retrying at the next interval'))
      .finally(() => { running = undefined; });
  };
  pass();
  const timer = setInterval(pass, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
