import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long a process may route events of a type by what it read for that
 * type (the triggers listening to it and its cancellation and wait routes)
 * without reading it again, in ms. Every write that changes what a type
 * routes to waits out this lease (plus ROUTING_LEASE_MARGIN_MS) before it
 * answers: a trigger saved, enabled, disabled, rolled back or deleted
 * (trigger-store.ts), and a process's first use of a route
 * (cancel-index.ts). Triggers' webhook secrets are kept by the same rule
 * (webhook-secrets.ts: a rotation waits it out). So an event that arrives after such a write has
 * answered is routed by a read sent after the write, in every process, as
 * if nothing were cached; the same rule as the ledger's policy lease.
 * Bounds: those writes answer this much later.
 */
export const ROUTING_LEASE_MS = 500;

/** Slack for timer resolution between the lease and a writer's wait. */
export const ROUTING_LEASE_MARGIN_MS = 50;

/** Keys (event types, or trigger ids for webhook secrets) whose answer a process keeps; beyond it the least recently read is forgotten. */
const MAX_CACHED_TYPES = 1_000;

/** Waits until no process can still route by a read sent before this call. */
export async function waitOutRoutingLease(): Promise<void> {
  await sleep(ROUTING_LEASE_MS + ROUTING_LEASE_MARGIN_MS);
}

interface Entry<T> {
  read: Promise<T>;
  /** performance.now() just before the read was sent: what it answers is at least this fresh. */
  startedMs: number;
}

/**
 * What each event type routes to, read at most once per lease per process
 * (keyed by event type; webhook-secrets.ts keys a trigger's secret by its id
 * under the same lease).
 * Callers that ask while a read is in flight share it, so a burst of events
 * of one type costs one read. A read that fails is not kept. The answers are
 * shared between callers: they are frozen, so no caller can change what the
 * next one sees.
 */
export class RoutingCache<T extends object> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly now: () => number;

  /** `now` is for tests; it defaults to performance.now. */
  constructor(private readonly read: (type: string) => Promise<T>, options: { now?: () => number } = {}) {
    this.now = options.now ?? (() => performance.now());
  }

  get(type: string): Promise<T> {
    const now = this.now();
    const cached = this.entries.get(type);
    if (cached && now - cached.startedMs < ROUTING_LEASE_MS) return cached.read;
    const entry: Entry<T> = { read: this.read(type).then(deepFreeze), startedMs: now };
    this.entries.delete(type);
    this.entries.set(type, entry);
    if (this.entries.size > MAX_CACHED_TYPES) this.entries.delete(this.entries.keys().next().value!);
    entry.read.catch(() => {
      if (this.entries.get(type) === entry) this.entries.delete(type);
    });
    return entry.read;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
