/**
 * Statements: an account's entries within a time range, as pages (newest
 * first) or as one stream in posting order with the running balance. Built
 * on the ledger's public reads plus `_id` reads of entries, so it needs no
 * index but the primary key (the only one FerretDB 1.x uses) and changes
 * nothing in the posting path.
 *
 * Time to seq: entries are stamped by the posting process's clock in seq
 * order, so `createdAt` rises with `seq`. The range [from, to) becomes a
 * range of seqs by two binary searches (about 2 x log2(n) `_id` reads: 34
 * for 100,000 entries); every entry returned is checked against the range
 * again. With clocks out of step between posting processes an entry stamped
 * out of order at the edge of the range may be left out; never one outside
 * it.
 */
import type { Connection } from 'mongoose';
import { DomainError } from '../errors';
import { decodeCursorKey, encodeCursorKey } from '../cursor';
import type { Ledger } from './index';
import { toEntry } from './mapping';
import { entryKey, ledgerModels, type EntryDoc } from './models';
import type { Account, LedgerEntry, Page } from './types';

/** A half-open time range: `from` inclusive, `to` exclusive; either may be absent. */
export interface TimeRange {
  from?: Date | undefined;
  to?: Date | undefined;
}

/** Entries read at once while streaming: the memory a stream holds, whatever the account's length. */
export const STATEMENT_BATCH = 200;

const isSeqCursor = (value: Record<string, unknown>): value is { seq: number } => Number.isSafeInteger(value.seq) && (value.seq as number) > 0;

function accountNotFound(ownerId: string, unit: string): DomainError {
  return new DomainError('account_not_found', 'not_found', `No ${unit} account for owner "${ownerId}".`);
}

export function assertRange(range: TimeRange): void {
  if (range.from && range.to && range.from.getTime() > range.to.getTime()) {
    throw new DomainError('time_range_invalid', 'invalid', '`from` must not be after `to`.', [{ path: 'from', message: 'must not be after to' }]);
  }
}

export function createStatements(deps: { connection: Connection; ledger: Pick<Ledger, 'getAccount'> }) {
  const { entries } = ledgerModels(deps.connection);

  async function entryAt(accountId: string, seq: number): Promise<EntryDoc> {
    const doc = await entries.findOne({ _id: entryKey(accountId, seq) });
    if (!doc) throw new Error(`ledger entry ${entryKey(accountId, seq)} is missing: run ledger:verify`);
    return doc;
  }

  /** The first seq in [1, newest] whose entry is stamped at or after `at` (newest + 1 when none is). */
  async function firstAtOrAfter(accountId: string, newest: number, at: Date): Promise<number> {
    let low = 1;
    let high = newest + 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if ((await entryAt(accountId, middle)).createdAt.getTime() >= at.getTime()) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The account and the seqs [first, last] its entries in the range occupy (first > last: none). */
  async function seqRange(ownerId: string, unit: string, range: TimeRange): Promise<{ account: Account; first: number; last: number }> {
    assertRange(range);
    const account = await deps.ledger.getAccount(ownerId, unit);
    if (!account) throw accountNotFound(ownerId, unit);
    const first = range.from ? await firstAtOrAfter(account.id, account.seq, range.from) : 1;
    const last = range.to ? (await firstAtOrAfter(account.id, account.seq, range.to)) - 1 : account.seq;
    return { account, first, last };
  }

  const inRange = (range: TimeRange) => (entry: LedgerEntry) =>
    (!range.from || entry.createdAt.getTime() >= range.from.getTime()) && (!range.to || entry.createdAt.getTime() < range.to.getTime());

  async function read(accountId: string, seqs: readonly number[]): Promise<LedgerEntry[]> {
    return (await Promise.all(seqs.map((seq) => entryAt(accountId, seq)))).map(toEntry);
  }

  return {
    seqRange,

    /** One page of the range's entries, newest first; the cursor is the last seq returned. */
    async page(ownerId: string, unit: string, range: TimeRange, page: { limit: number; cursor?: string | undefined }): Promise<Page<LedgerEntry>> {
      const { account, first, last } = await seqRange(ownerId, unit, range);
      const start = page.cursor ? Math.min(last, decodeCursorKey(page.cursor, isSeqCursor).seq - 1) : last;
      const seqs: number[] = [];
      for (let seq = start; seq >= first && seqs.length < page.limit; seq -= 1) seqs.push(seq);
      const items = (await read(account.id, seqs)).filter(inRange(range));
      const oldest = seqs.at(-1);
      return { items, nextCursor: oldest !== undefined && oldest > first ? encodeCursorKey({ seq: oldest }) : null };
    },

    /**
     * The range's entries oldest first, in batches of STATEMENT_BATCH: only
     * one batch is held at a time, so a 100,000-entry statement streams in
     * the memory of 200 entries. Entries posted after the stream started are
     * not included (the range ends at the newest seq when it began).
     */
    async *stream(account: Account, first: number, last: number, range: TimeRange): AsyncGenerator<LedgerEntry[]> {
      const keep = inRange(range);
      for (let from = first; from <= last; from += STATEMENT_BATCH) {
        const seqs: number[] = [];
        for (let seq = from; seq <= Math.min(last, from + STATEMENT_BATCH - 1); seq += 1) seqs.push(seq);
        yield (await read(account.id, seqs)).filter(keep);
      }
    },
  };
}

export type Statements = ReturnType<typeof createStatements>;
