import type { Response } from 'express';
import type { Account, LedgerEntry } from '../../engine/ledger';
import type { Statements, TimeRange } from '../../engine/ledger/statement';
import { shownKey } from './idempotency-keys';

/** The statement's columns; `balance` is the running balance after each entry. */
export const STATEMENT_COLUMNS = ['date', 'seq', 'entry_id', 'direction', 'amount', 'balance', 'comment', 'source', 'idempotency_key'] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break. A text field that starts like a formula (= + - @, tab, CR) gets a
 * leading apostrophe, so a comment cannot run as a formula in a spreadsheet.
 */
export function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function sourceOf(entry: LedgerEntry): string {
  const source = entry.source;
  if (source.kind === 'trigger') return `trigger:${source.triggerId}`;
  if (source.kind === 'opening') return `opening:${source.groupId}`;
  if (source.kind === 'subscription') return `subscription:${source.subscriptionId}`;
  return `api:${source.keyId}`;
}

export function csvRow(entry: LedgerEntry): string {
  return [
    entry.createdAt.toISOString(), entry.seq, entry.id, entry.direction, entry.amount, entry.balanceAfter,
    entry.comment ?? '', sourceOf(entry), shownKey(entry),
  ].map(csvField).join(',') + '\r\n';
}

/** Resolves once the response can take more, or is closed (a client gone away never drains). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes the statement as CSV, batch by batch, waiting for the client to
 * drain each write: memory holds one batch of entries and one socket
 * buffer, however long the statement. A client that goes away stops the
 * reads. The headers are sent before the first entry is read, so a failure
 * after them can only cut the body short (the response is then destroyed,
 * never ended, so the client sees it incomplete).
 */
export async function writeCsvStatement(res: Response, statements: Statements, account: Account, seqs: { first: number; last: number }, range: TimeRange): Promise<void> {
  const name = `statement-${account.ownerId}-${account.unit}`.replace(/[^A-Za-z0-9._-]/g, '_');
  res.status(200).set({ 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${name}.csv"` });
  res.write(STATEMENT_COLUMNS.join(',') + '\r\n');
  try {
    for await (const batch of statements.stream(account, seqs.first, seqs.last, range)) {
      if (res.destroyed) return;
      if (batch.length > 0 && !res.write(batch.map(csvRow).join(''))) await drained(res);
    }
    res.end();
  } catch (error) {
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}
