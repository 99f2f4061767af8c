import type { mongo } from 'mongoose';
import type { EntryDoc } from './models';

/** The most entries one group insert carries. */
const MAX_BATCH = 100;

interface Pending {
  doc: EntryDoc;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One document's failure inside a bulk insert, shaped like a single insert's error (code 11000 for a duplicate). */
class EntryWriteError extends Error {
  constructor(readonly code: number | undefined, message: string) {
    super(message);
    this.name = 'EntryWriteError';
  }
}

/**
 * Group commit for entry inserts. While one insert is in flight, entries that
 * other postings (always of other accounts: one account's postings are queued)
 * hand in are collected and sent together as one unordered insertMany. Each
 * document still succeeds or fails on its own, with its own unique-index
 * check, so the semantics are exactly those of one insertOne per entry; the
 * store just does one round trip and one write transaction for many. Nothing
 * waits for a timer: a lone posting is sent at once.
 */
export class EntryWriter {
  private pending: Pending[] = [];
  private flushing = false;

  constructor(private readonly entries: mongo.Collection<EntryDoc>) {}

  insert(doc: EntryDoc): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ doc, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        await this.write(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      await this.entries.insertOne(only.doc).then(() => only.resolve(), only.reject);
      return;
    }
    const failures = new Map<number, EntryWriteError>();
    try {
      await this.entries.insertMany(batch.map((p) => p.doc), { ordered: false });
    } catch (error) {
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      if (!Array.isArray(writeErrors) && !(writeErrors && typeof writeErrors === 'object')) {
        // The command itself failed (connection lost, ...): no document's fate is known.
        for (const p of batch) p.reject(error);
        return;
      }
      const list = (Array.isArray(writeErrors) ? writeErrors : [writeErrors]) as Array<{ index: number; code?: number; errmsg?: string }>;
      for (const failure of list) failures.set(failure.index, new EntryWriteError(failure.code, failure.errmsg ?? 'entry insert failed'));
    }
    batch.forEach((p, index) => {
      const failure = failures.get(index);
      if (failure) p.reject(failure);
      else p.resolve();
    });
  }
}
