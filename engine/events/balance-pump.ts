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
 *
 * An entry this process posted comes with the id of the mark its posting
 * placed (`wake(entry, markId)`): the pump knows that slot's entry and mark
 * without reading either, so it delivers it and deletes that mark at once,
 * with no read of the marks, as long as the account's order holds (the
 * entry is the account's first, or this pump delivered the one before it).
 * Other marks of the slot (another attempt's) stay for a poll, which still
 * runs every `pollIntervalMs` and finds everything else.
 */
import { performance } from 'node:perf_hooks';
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
  /** Entries this process posted, by id, until delivered (entries never change once written), with their posting's mark while it may be delivered without a poll. */
  private readonly posted = new LRUCache<string, HandedOver>({ max: MAX_POSTED_ENTRIES });
  /** The highest seq this pump delivered, per account: an entry handed over right after it may go without a poll. */
  private readonly deliveredSeq = new LRUCache<string, number>({ max: MAX_POSTED_ENTRIES });
  private cursor: string | null = null;
  private stopped = false;
  /** Something to do at once: an entry handed over, or a poll asked for. */
  private wakeRequested = false;
  /** A poll in particular, before the interval is out: a wake without a mark, a full page, or entries left to one. */
  private pollRequested = false;
  /** performance.now() when the last poll started. */
  private lastPollAt = -Infinity;
  private interruptIdle: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly deps: BalancePumpDependencies) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Works again as soon as the current pass (if any) is done. `entry`, as
   * the ledger hands over one this process just inserted, spares reading
   * it; with `markId`, the mark its posting placed before it, it is
   * delivered and that mark deleted without a poll (see the module's
   * comment). Without them, a poll runs.
   */
  wake(entry?: LedgerEntry, markId?: string): void {
    if (entry) this.posted.set(entry.id, markId === undefined ? { entry } : { entry, markId });
    if (markId === undefined) this.pollRequested = true;
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

  /**
   * Delivers the entries handed over with their mark, per account in seq
   * order, while each is the account's first or follows one this pump
   * delivered; then deletes their marks. An entry that cannot go this way
   * (order unknown, or its ingestion failed) is left to a poll, which finds
   * its mark: `leftForPoll` counts them.
   */
  async deliverHandedOver(): Promise<{ delivered: number; leftForPoll: number; failedAccounts: number }> {
    const byAccount = new Map<string, Array<Required<HandedOver>>>();
    for (const handed of this.posted.values()) {
      if (handed.markId === undefined) continue;
      const list = byAccount.get(handed.entry.accountId);
      if (list) list.push(handed as Required<HandedOver>);
      else byAccount.set(handed.entry.accountId, [handed as Required<HandedOver>]);
    }
    const report = { delivered: 0, leftForPoll: 0, failedAccounts: 0 };
    if (byAccount.size === 0) return report;
    const routing = await this.deps.routingOf?.(BALANCE_CHANGED);
    const cleared: string[] = [];
    let firstFailure: { error: unknown; entryId: string } | undefined;
    await inParallel([...byAccount.values()], ACCOUNTS_IN_PARALLEL, async (handed) => {
      handed.sort((a, b) => a.entry.seq - b.entry.seq);
      // The entry at `from` and the account's later ones go to a poll: their marks stay, and the entries are kept to spare its reads.
      const leaveToPoll = (from: number) => {
        for (const left of handed.slice(from)) this.posted.set(left.entry.id, { entry: left.entry });
        report.leftForPoll += handed.length - from;
      };
      for (const [index, { entry, markId }] of handed.entries()) {
        // The account's previous entry was not delivered by this pump (another process posted it): a poll keeps the order.
        if ((this.deliveredSeq.get(entry.accountId) ?? 0) < entry.seq - 1) return leaveToPoll(index);
        try {
          await this.ingest(entry, routing);
        } catch (error) {
          leaveToPoll(index);
          report.failedAccounts += 1;
          firstFailure ??= { error, entryId: entry.id };
          return;
        }
        this.delivered(entry);
        cleared.push(markId);
        report.delivered += 1;
      }
    });
    if (firstFailure) this.deps.logger.warn({ err: firstFailure.error, entryId: firstFailure.entryId, failedAccounts: report.failedAccounts }, 'balance events not delivered; retrying at the next poll');
    await this.deps.outbox.clearMarks(cleared);
    return report;
  }

  /** Forgets a delivered entry, and notes its seq as the account's newest delivered. */
  private delivered(entry: LedgerEntry): void {
    this.posted.delete(entry.id);
    if ((this.deliveredSeq.get(entry.accountId) ?? 0) < entry.seq) this.deliveredSeq.set(entry.accountId, entry.seq);
  }

  /** One account's slots in seq order, until a slot without an entry or a failure. */
  private async deliverAccount(slots: Slot[], routing: Routing | undefined): Promise<{ cleared: string[]; delivered: number; kept: number; failure?: { error: unknown; entryId: string } }> {
    const cleared: string[] = [];
    const stopAt = (index: number) => ({ cleared, delivered: index, kept: slots.slice(index).reduce((sum, slot) => sum + slot.markIds.length, 0) });
    for (const [index, slot] of slots.entries()) {
      try {
        const entry = this.posted.get(slot.entryId)?.entry ?? (await this.deps.outbox.entryAt(slot.entryId));
        // Seqs have no gaps: with this slot empty, the later ones are too.
        if (!entry) return stopAt(index);
        await this.ingest(entry, routing);
        this.delivered(entry);
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
      // Cleared before anything is read: a wake during the pass asks for another.
      this.wakeRequested = false;
      try {
        const handed = await this.deliverHandedOver();
        let failed = handed.failedAccounts > 0;
        if (handed.leftForPoll > 0 || this.pollRequested || performance.now() - this.lastPollAt >= this.deps.pollIntervalMs) {
          this.pollRequested = false;
          this.lastPollAt = performance.now();
          const report = await this.pollOnce();
          failed ||= report.failedAccounts > 0;
          if (report.more && report.failedAccounts === 0) this.pollRequested = this.wakeRequested = true;
          if (report.delivered > 0 || report.failedAccounts > 0) this.deps.logger.debug({ ...report }, 'balance events polled');
        }
        failures = failed ? failures + 1 : 0;
      } catch (error) {
        failures += 1;
        this.deps.logger.warn({ err: error, failures }, 'balance marks could not be read or deleted; retrying');
      }
      const untilNextPoll = Math.max(0, this.lastPollAt + this.deps.pollIntervalMs - performance.now());
      await this.idle(failures > 0 ? Math.min(MAX_BACKOFF_MS, this.deps.pollIntervalMs * 2 ** Math.min(failures, 10)) : untilNextPoll);
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

/** An entry this process posted, and the mark its posting placed while the pump may deliver it without a poll. */
interface HandedOver {
  entry: LedgerEntry;
  markId?: string;
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
