/**
 * The balance pump: hands every ledger entry to the event ingestion as one
 * `account.balance_changed` event (id `bal:<entryId>`). This module owns the
 * consumer's half of the mechanism; the ledger's half (a balance mark per
 * posting attempt, inserted before the entry) is engine/ledger/balance-marks.ts,
 * and the README of engine/ledger says why the two together lose nothing.
 *
 * Each poll reads the marks (only slots not yet handed over), then what
 * balance events route to (once for the poll's events), reads each slot's
 * entry by `_id` (unless this process posted it and handed it over with
 * `wake`), ingests it (per account in seq order), and then deletes the
 * marks. A slot without an entry keeps its mark: its poster is
 * in flight, or stopped before the entry, and a later posting takes the
 * slot. Ingestion is idempotent by event id, so several pumps (one per
 * worker) and a crash between ingest and delete only repeat a delivery
 * that the events collection dedupes.
 */
import { LRUCache } from 'lru-cache';
import { isDomainError } from '../errors';
import type { BalanceChangeOutbox, BalanceMark, LedgerEntry } from '../ledger';
import type { Logger } from '../logger';
import { depthAfter } from '../../workflows/chain-depth';
import type { AccountContext, RunCause } from '../../workflows/types';
import type { EventInput, Routing, RunOptions } from './ingest';

/** The event type of a balance change. */
export const BALANCE_CHANGED = 'account.balance_changed';

/** Marks read per poll; a full page is followed by the next at once, so a backlog drains without waiting out the interval. */
const MARKS_PER_POLL = 500;

/** Accounts handled at once within a poll; one account's slots go one at a time, in seq order. */
const ACCOUNTS_IN_PARALLEL = 8;

/** Entries handed over by `wake` and not yet delivered, at most; past it the least recently handed over go (another pump delivered them, or a read finds them). */
const MAX_POSTED_ENTRIES = 4_096;

/** The longest wait between polls while the store or Temporal keeps failing. */
const MAX_BACKOFF_MS = 5_000;

/** Who the events' record names as their sender. */
const ACTOR = 'creditflow:ledger';

/** The id of an entry's balance event. */
export function balanceEventId(entryId: string): string {
  return `bal:${entryId}`;
}

/**
 * The event for one entry, and what its runs carry: the account (balance
 * after the entry) and the cause. Everything comes from the entry, so every
 * pump builds the same event and a repeated delivery is a duplicate.
 */
export function balanceEventOf(entry: LedgerEntry): { input: EventInput; options: { account: AccountContext; cause: RunCause } } {
  const { source } = entry;
  const eventId = balanceEventId(entry.id);
  return {
    input: {
      id: eventId,
      type: BALANCE_CHANGED,
      occurredAt: new Date(entry.createdAt).toISOString(),
      data: {
        account: { ownerId: entry.ownerId, unit: entry.unit },
        before: entry.balanceBefore,
        after: entry.balanceAfter,
        entry: { id: entry.id, direction: entry.direction, amount: entry.amount, source },
      },
    },
    options: {
      account: { ownerId: entry.ownerId, unit: entry.unit, balance: entry.balanceAfter },
      cause: source.kind === 'trigger'
        ? { eventId, workflowId: source.workflowId, depth: depthAfter(source.depth) }
        : { eventId, depth: depthAfter(undefined) },
    },
  };
}

export interface BalancePumpDependencies {
  outbox: BalanceChangeOutbox;
  /** The event ingestion (createEventIngestor(...).ingest); `routing` is routingOf's answer for the event's type. */
  ingest(input: EventInput, actor: string, options: RunOptions, routing?: Routing): Promise<unknown>;
  /**
   * What balance events route to (createEventIngestor(...).routingOf), read
   * once per poll after its marks: each event of the poll then skips that
   * read. A trigger saved before a posting is in it, since the posting's mark
   * was read before it. Without it, each ingest reads its own.
   */
  routingOf?(type: string): Promise<Routing>;
  logger: Pick<Logger, 'error' | 'warn' | 'debug'>;
  /** Wait between polls when there is nothing to do, in ms. */
  pollIntervalMs: number;
}

/** What one poll did. */
export interface PollReport {
  /** Slots handed over (their events ingested) and their marks deleted. */
  delivered: number;
  /** Marks kept: their slot has no entry yet, or its account failed and waits for the next poll. */
  kept: number;
  /** Accounts whose delivery failed this poll (the store or Temporal down): retried next poll. */
  failedAccounts: number;
  /** True when the page of marks was full: there are more to read at once. */
  more: boolean;
}

/**
 * One pump per worker process: `start` it, `wake` it when this process has
 * posted (optional: the poll finds every posting anyway), `stop` it on
 * shutdown. A wake while a poll runs makes the next poll start right after
 * it, so none is lost.
 */
export class BalancePump {
  /** Entries this process posted, by id, until delivered (entries never change once written). */
  private readonly posted = new LRUCache<string, LedgerEntry>({ max: MAX_POSTED_ENTRIES });
  private cursor: string | null = null;
  private stopped = false;
  private wakeRequested = false;
  private interruptIdle: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: BalancePumpDependencies) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Polls again as soon as the current poll (if any) is done. `entry`, as
   * the ledger hands over one this process just inserted, spares the poll
   * reading it; its mark is still what has it delivered.
   */
  wake(entry?: LedgerEntry): void {
    if (entry) this.posted.set(entry.id, entry);
    this.wakeRequested = true;
    this.interruptIdle?.();
  }

  /** Resolves once the poll in progress, if any, has finished; no poll starts after. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interruptIdle?.();
    await this.loop;
  }

  /** One pass over a page of marks; throws only when the marks cannot be read or deleted. */
  async pollOnce(): Promise<PollReport> {
    const marks = await this.deps.outbox.readMarks(this.cursor, MARKS_PER_POLL);
    const more = marks.length === MARKS_PER_POLL;
    // A partial page ends a sweep: the next poll starts from the first mark again.
    this.cursor = more ? marks.at(-1)!.id : null;
    const accounts = [...groupBySlot(marks).values()];
    const report: PollReport = { delivered: 0, kept: 0, failedAccounts: 0, more };
    // Read after the marks, never before: see routingOf.
    const routing = marks.length > 0 ? await this.deps.routingOf?.(BALANCE_CHANGED) : undefined;
    const cleared: string[] = [];
    let firstFailure: { error: unknown; entryId: string } | undefined;
    await inParallel(accounts, ACCOUNTS_IN_PARALLEL, async (slots) => {
      const outcome = await this.deliverAccount(slots, routing);
      cleared.push(...outcome.cleared);
      report.delivered += outcome.delivered;
      report.kept += outcome.kept;
      if (outcome.failure) {
        report.failedAccounts += 1;
        firstFailure ??= outcome.failure;
      }
    });
    // One line per poll, however many accounts an outage holds back.
    if (firstFailure) this.deps.logger.warn({ err: firstFailure.error, entryId: firstFailure.entryId, failedAccounts: report.failedAccounts }, 'balance events not delivered; retrying at the next poll');
    // Deleted only after their events were ingested: a crash before this line delivers them again, as duplicates.
    await this.deps.outbox.clearMarks(cleared);
    return report;
  }

  /** One account's slots in seq order, until a slot without an entry or a failure. */
  private async deliverAccount(slots: Slot[], routing: Routing | undefined): Promise<{ cleared: string[]; delivered: number; kept: number; failure?: { error: unknown; entryId: string } }> {
    const cleared: string[] = [];
    const stopAt = (index: number) => ({ cleared, delivered: index, kept: slots.slice(index).reduce((sum, slot) => sum + slot.markIds.length, 0) });
    for (const [index, slot] of slots.entries()) {
      try {
        const entry = this.posted.get(slot.entryId) ?? (await this.deps.outbox.entryAt(slot.entryId));
        // Seqs have no gaps: with this slot empty, the later ones are too.
        if (!entry) return stopAt(index);
        await this.ingest(entry, routing);
        this.posted.delete(slot.entryId);
        cleared.push(...slot.markIds);
      } catch (error) {
        return { ...stopAt(index), failure: { error, entryId: slot.entryId } };
      }
    }
    return stopAt(slots.length);
  }

  /**
   * Ingests the entry's event. An event of that id stored with another body
   * (`event_conflict`: only a release that built the event differently could
   * store one) can never be ingested again; retrying it would hold the
   * account's later changes back for good, so it is logged and passed.
   */
  private async ingest(entry: LedgerEntry, routing: Routing | undefined): Promise<void> {
    const { input, options } = balanceEventOf(entry);
    try {
      await this.deps.ingest(input, ACTOR, options, routing);
    } catch (error) {
      if (!isDomainError(error) || error.code !== 'event_conflict') throw error;
      this.deps.logger.error({ err: error, eventId: input.id }, 'balance event already stored with another body; not delivered again');
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      // Cleared before the poll reads anything: a wake during the poll asks for another.
      this.wakeRequested = false;
      let delayMs = this.deps.pollIntervalMs;
      try {
        const report = await this.pollOnce();
        failures = report.failedAccounts > 0 ? failures + 1 : 0;
        if (report.more && report.failedAccounts === 0) this.wakeRequested = true;
        if (report.delivered > 0 || report.failedAccounts > 0) this.deps.logger.debug({ ...report }, 'balance events polled');
      } catch (error) {
        failures += 1;
        this.deps.logger.warn({ err: error, failures }, 'balance marks could not be read; retrying');
      }
      if (failures > 0) delayMs = Math.min(MAX_BACKOFF_MS, this.deps.pollIntervalMs * 2 ** Math.min(failures, 10));
      await this.idle(delayMs);
    }
  }

  /** Waits out the interval, unless a wake or stop came (during the poll, or now). */
  private idle(ms: number): Promise<void> {
    if (this.wakeRequested || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interruptIdle = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interruptIdle = done;
    });
  }
}

/** Each slot's marks (several attempts may have marked one slot). */
interface Slot {
  entryId: string;
  seq: number;
  markIds: string[];
}

/** Slots per account, in seq order. */
function groupBySlot(marks: readonly BalanceMark[]): Map<string, Slot[]> {
  const slotsByEntry = new Map<string, Slot & { accountId: string }>();
  for (const mark of marks) {
    const slot = slotsByEntry.get(mark.entryId);
    if (slot) slot.markIds.push(mark.id);
    else slotsByEntry.set(mark.entryId, { accountId: mark.accountId, entryId: mark.entryId, seq: mark.seq, markIds: [mark.id] });
  }
  const accounts = new Map<string, Slot[]>();
  for (const { accountId, ...slot } of slotsByEntry.values()) {
    const slots = accounts.get(accountId);
    if (slots) slots.push(slot);
    else accounts.set(accountId, [slot]);
  }
  for (const slots of accounts.values()) slots.sort((a, b) => a.seq - b.seq);
  return accounts;
}

/** Runs `work` over the items, at most `limit` at once. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(lanes);
}
