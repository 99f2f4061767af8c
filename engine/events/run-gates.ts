/**
 * The gates a match passes before its run starts: `throttle` (at most one
 * run per key per window) and `singleton` (no new run while the trigger's run
 * for the same key is open). Several API replicas and workers decide at once,
 * so each gate is a chain of claims per (trigger, key) with `_id`s
 * `<gate>:<triggerId>:<key hash>:<n>`, n = 1, 2, 3...: a match reads the newest
 * claim, decides on it, and inserts claim n + 1. Of two matches that decided
 * on the same claim only one insert lands (a duplicate key is the conflict);
 * the other reads the winner's claim and decides again. Nothing is ever
 * updated, nothing waits on a clock, and every read is by `_id`.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Schema, type Connection } from 'mongoose';
import { parseReference, valueAtPath } from '../../workflows/references';
import type { EventEnvelope, TriggerRunInput } from '../../workflows/types';
import { driverCollection, isDuplicateKeyError, modelOn } from '../store';
import type { SingletonSpec, ThrottleSpec } from '../triggers/event-sources';

/** A claim: who passed the gate for this key, and (throttle) until when the window is theirs. */
interface ClaimDoc {
  _id: string;
  gate: 'throttle' | 'singleton';
  triggerId: string;
  key: string;
  n: number;
  eventId: string;
  workflowId: string;
  at: Date;
  /** Throttle: the end of the window this claim holds. */
  until: Date | null;
  /** Singleton: the run's input, so that a match finding the run not started yet can start it (see `openRun`). */
  inputJson: string | null;
}

const claimSchema = new Schema<ClaimDoc>(
  {
    _id: String,
    gate: { type: String, required: true },
    triggerId: { type: String, required: true },
    key: { type: String, required: true },
    n: { type: Number, required: true },
    eventId: { type: String, required: true },
    workflowId: { type: String, required: true },
    at: { type: Date, required: true },
    until: { type: Date, default: null },
    inputJson: { type: String, default: null },
  },
  { collection: 'run_gate_claims', versionKey: false },
);

/** How many conflicting claims one match re-decides on before giving up with an error (retried by the caller). */
const MAX_CLAIM_ATTEMPTS = 100;

/** What a gate decides for one match. */
export type GateDecision =
  | { admitted: true }
  | { throttled: { triggerId: string; key: string; until: string } }
  | { skipped: { triggerId: string; key: string; reason: 'run_open'; workflowId: string } };

/** What the gates need to know about a match. */
export interface GateInput {
  triggerId: string;
  throttle?: ThrottleSpec;
  singleton?: SingletonSpec;
  event: EventEnvelope;
  /** The run that would start: its id and input. */
  workflowId: string;
  input: TriggerRunInput;
}

export interface RunGateDependencies {
  connection: Connection;
  temporal: Client;
  /** Starts a run from its input (idempotent by workflow id); used for a claimed run whose claimer stopped before starting it. */
  launch(input: TriggerRunInput): Promise<void>;
  clock?: () => Date;
}

/**
 * Fills each `{{path}}` of a gate key from what the run will see (`event`,
 * `data`, `account`, `trigger`); a missing value fills in as empty, so
 * matches without it share one key.
 */
export function gateKey(template: string, input: TriggerRunInput): string {
  const scope = { event: input.event, data: input.event.data, account: input.account, trigger: { id: input.trigger.id, name: input.trigger.name, version: input.trigger.version } };
  return template.replace(/\{\{[^}]*\}\}/g, (reference) => {
    const path = parseReference(reference);
    const value = path === undefined ? undefined : valueAtPath(scope, path);
    return value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

function localTime(instant: Date, timezone: string): { year: number; month: number; day: number; offsetMs: number } {
  let format = dayFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    dayFormats.set(timezone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, Number(part.value)]));
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return { year: parts.year!, month: parts.month!, day: parts.day!, offsetMs: asUtc - Math.floor(instant.getTime() / 1000) * 1000 };
}

/** The instant the calendar day of `instant` ends in `timezone` (the next local midnight). */
export function endOfLocalDay(instant: Date, timezone: string): Date {
  const today = localTime(instant, timezone);
  const midnightUtc = Date.UTC(today.year, today.month - 1, today.day + 1);
  // The offset at midnight may differ from now's (a daylight-saving change during the day): take it from there.
  const guess = new Date(midnightUtc - today.offsetMs);
  return new Date(midnightUtc - localTime(guess, timezone).offsetMs);
}

/** When a window opened at `at` ends. */
export function windowEnd(throttle: ThrottleSpec, at: Date): Date {
  return 'per' in throttle ? endOfLocalDay(at, throttle.timezone) : new Date(at.getTime() + throttle.minIntervalSeconds * 1000);
}

export function createRunGates(deps: RunGateDependencies) {
  const claims = driverCollection(modelOn<ClaimDoc>(deps.connection, 'RunGateClaim', claimSchema));
  const now = deps.clock ?? (() => new Date());
  /** The newest n this process has seen per chain: where the next search starts. */
  const newestSeen = new Map<string, number>();

  function chainOf(gate: ClaimDoc['gate'], triggerId: string, key: string): string {
    return `${gate}:${triggerId}:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
  }

  async function claimAt(chain: string, n: number): Promise<ClaimDoc | null> {
    return n < 1 ? null : claims.findOne({ _id: `${chain}:${n}` });
  }

  /**
   * The newest claim of the chain, by `_id` reads only: from the newest this
   * process has seen, double the step while claims exist, then bisect.
   */
  async function newest(chain: string): Promise<ClaimDoc | null> {
    let low = newestSeen.get(chain) ?? 0;
    let lowDoc = await claimAt(chain, low);
    if (low > 0 && !lowDoc) low = 0; // a dropped collection: start over
    let step = 1;
    let high = low + step;
    let highDoc = await claimAt(chain, high);
    while (highDoc) {
      low = high;
      lowDoc = highDoc;
      step *= 2;
      high = low + step;
      highDoc = await claimAt(chain, high);
    }
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      const middleDoc = await claimAt(chain, middle);
      if (middleDoc) {
        low = middle;
        lowDoc = middleDoc;
      } else {
        high = middle;
      }
    }
    if (low > 0) newestSeen.set(chain, low);
    return lowDoc;
  }

  /**
   * Decides on the newest claim and takes the next one when `blocked` says
   * the way is free; a lost race decides again on the winner's claim. The
   * same event passing again (a retried delivery) finds its own claim and
   * passes, so its run still starts, once.
   */
  async function pass<T>(gate: ClaimDoc['gate'], match: GateInput, key: string, blocked: (latest: ClaimDoc, at: Date) => Promise<T | undefined>, until: (at: Date) => Date | null): Promise<T | undefined> {
    const chain = chainOf(gate, match.triggerId, key);
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt += 1) {
      const latest = await newest(chain);
      if (latest?.eventId === match.event.id) return undefined;
      const at = now();
      if (latest) {
        const blocking = await blocked(latest, at);
        if (blocking !== undefined) return blocking;
      }
      const n = (latest?.n ?? 0) + 1;
      const claim: ClaimDoc = {
        _id: `${chain}:${n}`, gate, triggerId: match.triggerId, key, n, eventId: match.event.id, workflowId: match.workflowId, at, until: until(at),
        inputJson: gate === 'singleton' ? JSON.stringify(match.input) : null,
      };
      try {
        await claims.insertOne(claim);
        newestSeen.set(chain, n);
        return undefined;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
    }
    throw new Error(`the ${gate} of trigger ${match.triggerId} for key "${key}" lost ${MAX_CLAIM_ATTEMPTS} races in a row`);
  }

  /**
   * True while the claimed run is open. A claim whose run does not exist yet
   * is a run being started (or whose starter stopped): it is started here from
   * the claim, so it is open, and no second run can slip in beside it.
   */
  async function openRun(claim: ClaimDoc): Promise<boolean> {
    const handle = deps.temporal.workflow.getHandle(claim.workflowId);
    try {
      return (await handle.describe()).status.name === 'RUNNING';
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    if (claim.inputJson) await deps.launch(JSON.parse(claim.inputJson) as TriggerRunInput);
    return true;
  }

  async function singletonBlocks(latest: ClaimDoc): Promise<string | undefined> {
    return (await openRun(latest)) ? latest.workflowId : undefined;
  }

  return {
    /**
     * Passes the match through its trigger's gates: a look at the singleton
     * (an open run skips the match before it can use up a throttle window),
     * the throttle's claim, then the singleton's claim. A singleton claim is
     * only taken when nothing else can hold the run back, since a claimed run
     * is started by whoever finds it not started.
     */
    async admit(match: GateInput): Promise<GateDecision> {
      const singletonKey = match.singleton ? gateKey(match.singleton.key, match.input) : undefined;
      const skipped = (workflowId: string): GateDecision => ({ skipped: { triggerId: match.triggerId, key: singletonKey!, reason: 'run_open', workflowId } });
      if (singletonKey !== undefined) {
        const latest = await newest(chainOf('singleton', match.triggerId, singletonKey));
        const open = latest && latest.eventId !== match.event.id ? await singletonBlocks(latest) : undefined;
        if (open !== undefined) return skipped(open);
      }
      if (match.throttle) {
        const throttle = match.throttle;
        const key = gateKey(throttle.key, match.input);
        const until = await pass('throttle', match, key, async (latest, at) => (latest.until && latest.until > at ? latest.until : undefined), (at) => windowEnd(throttle, at));
        if (until !== undefined) return { throttled: { triggerId: match.triggerId, key, until: until.toISOString() } };
      }
      if (singletonKey !== undefined) {
        const open = await pass('singleton', match, singletonKey, singletonBlocks, () => null);
        if (open !== undefined) return skipped(open);
      }
      return { admitted: true };
    },
  };
}

export type RunGates = ReturnType<typeof createRunGates>;
