/**
 * What a sweep goes over: accounts of a unit (`forEachAccount`) or records
 * of a kind (`forEachRecord`). A source says how to read its items batch by
 * batch from a position, what the sweep's filter sees of an item, and the
 * event and run context of an item's run; fire.ts owns everything else
 * (filters, profiles, starts, checkpoints, the firing summary), once for
 * both.
 */
import type { Account, Ledger } from '../ledger';
import type { ExternalRecord, RecordStore } from '../records/record-store';
import { SCHEDULE_FIRED } from '../triggers/event-sources';
import type { TriggerRecord } from '../triggers/trigger-store';
import type { CustomerContext, EventEnvelope, RecordContext } from '../../workflows/types';
import type { RunOptions } from '../events/ingest';

/** One item of a sweep, as its source describes it. */
export interface SweepItem {
  /** Where a retried sweep resumes after this item. */
  position: string;
  /** The owner whose customer profile the filter and the run see; null: none. */
  ownerId: string | null;
  /** What the sweep's filter sees, before `customer` is added. */
  target: Record<string, unknown>;
  /** The item's event, `<firingId>:<...>`, and what its run carries besides the event. */
  event(firingId: string, scheduledAt: string): EventEnvelope;
  options: RunOptions;
}

export interface SweepSource {
  /** The filter over `target` (plus `customer`). */
  filter: Record<string, unknown> | undefined;
  batches(options: { batchSize: number; afterId?: string }): AsyncIterable<SweepItem[]>;
}

export interface SweepReaders {
  ledger: Pick<Ledger, 'sweepAccounts'>;
  records: Pick<RecordStore, 'batches'>;
}

function accountItem(account: Account): SweepItem {
  const context = { ownerId: account.ownerId, unit: account.unit, balance: account.balance };
  return {
    position: account.id,
    ownerId: account.ownerId,
    target: context,
    event: (firingId, scheduledAt) => ({ id: `${firingId}:${account.ownerId}:${account.unit}`, type: SCHEDULE_FIRED, occurredAt: scheduledAt, data: { scheduledAt, account: context } }),
    options: { account: context },
  };
}

/** The record as its run sees it: `record` in the context, carried in the event's data. */
function recordItem(position: string, record: ExternalRecord): SweepItem {
  const context: RecordContext = record;
  return {
    position,
    ownerId: record.ownerId,
    target: { ...record },
    event: (firingId, scheduledAt) => ({ id: `${firingId}:${record.kind}:${record.id}`, type: SCHEDULE_FIRED, occurredAt: scheduledAt, data: { scheduledAt, record: context } }),
    options: {},
  };
}

/** The trigger's sweep source, or undefined for a plain scheduled trigger. */
export function sweepSourceOf(trigger: TriggerRecord, readers: SweepReaders): SweepSource | undefined {
  if (trigger.forEachAccount) {
    const { unit, filter } = trigger.forEachAccount;
    return {
      filter,
      async *batches(options) {
        for await (const batch of readers.ledger.sweepAccounts(unit, options)) yield batch.map(accountItem);
      },
    };
  }
  if (trigger.forEachRecord) {
    const { kind, filter } = trigger.forEachRecord;
    return {
      filter,
      async *batches(options) {
        for await (const batch of readers.records.batches({ kind, ...options })) yield batch.map(({ position, record }) => recordItem(position, record));
      },
    };
  }
  return undefined;
}

/** The customer profile in a sweep's filter target, when there is one. */
export function withCustomer(target: Record<string, unknown>, customer: CustomerContext | undefined): Record<string, unknown> {
  return customer ? { ...target, customer } : target;
}
