import type { mongo } from 'mongoose';

/** The most documents one group insert carries. */
const MAX_BATCH = 100;

interface Pending<T> {
  doc: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One document's failure inside a group insert, shaped like a single insert's error (code 11000 for a duplicate). */
export class GroupInsertError extends Error {
  constructor(readonly code: number | undefined, message: string) {
    super(message);
    this.name = 'GroupInsertError';
  }
}

/**
 * Group commit for inserts into one collection. While one insert is in
 * flight, the documents other callers hand in are collected and sent
 * together as one unordered insertMany. Each document still succeeds or
 * fails on its own, with its own unique-index check, so the semantics are
 * exactly those of one insertOne per document; the store does one round
 * trip and one write transaction for many. Nothing waits for a timer: a lone
 * insert is sent at once.
 */
export class GroupInsert<T extends { _id: string }> {
  private pending: Array<Pending<T>> = [];
  private flushing = false;

  constructor(private readonly collection: mongo.Collection<T>) {}

  insert(doc: T): Promise<void> {
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

  private async write(batch: Array<Pending<T>>): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending<T>];
      await this.collection.insertOne(only.doc as mongo.OptionalUnlessRequiredId<T>).then(() => only.resolve(), only.reject);
      return;
    }
    const failures = new Map<number, GroupInsertError>();
    try {
      await this.collection.insertMany(batch.map((p) => p.doc as mongo.OptionalUnlessRequiredId<T>), { ordered: false });
    } catch (error) {
      const answered = perDocumentFailures(error, batch.length);
      if (!answered) {
        // The command itself failed (connection lost, store down, ...): no document's fate is known.
        for (const p of batch) p.reject(error);
        return;
      }
      for (const failure of answered) failures.set(failure.index, new GroupInsertError(failure.code, failure.errmsg ?? 'insert failed'));
    }
    batch.forEach((p, index) => {
      const failure = failures.get(index);
      if (failure) p.reject(failure);
      else p.resolve();
    });
  }
}

const writers = new WeakMap<object, GroupInsert<{ _id: string }>>();

/**
 * The documents the store refused, when its answer accounts for every
 * document of the batch (each either inserted or listed with its error);
 * otherwise null. The driver also reports a failed command (a lost
 * connection, a store that is down) as a bulk write error, with no write
 * errors and nothing inserted: read as "all inserted but none", that would
 * report documents as stored that never reached the store.
 */
export function perDocumentFailures(error: unknown, batchSize: number): Array<{ index: number; code?: number; errmsg?: string }> | null {
  const failure = error as { writeErrors?: unknown; insertedCount?: unknown; result?: { insertedCount?: unknown }; err?: unknown };
  const { writeErrors } = failure;
  if (!writeErrors || typeof writeErrors !== 'object') return null;
  const list = (Array.isArray(writeErrors) ? writeErrors : [writeErrors]) as Array<{ index: number; code?: number; errmsg?: string }>;
  const inserted = typeof failure.insertedCount === 'number' ? failure.insertedCount : failure.result?.insertedCount;
  // A write concern error: the writes happened but were not confirmed as asked, so no document's fate is settled either.
  if (list.length === 0 || typeof inserted !== 'number' || inserted + list.length !== batchSize || failure.err) return null;
  return list;
}

/**
 * The process's group writer for this collection, shared by every caller,
 * so concurrent inserts from different requests and activities share round
 * trips. The insert resolves once the document is stored and rejects with
 * its own error (a duplicate key has code 11000, as from insertOne).
 */
export function groupInsert<T extends { _id: string }>(collection: mongo.Collection<T>): GroupInsert<T> {
  let writer = writers.get(collection) as GroupInsert<T> | undefined;
  if (!writer) {
    writer = new GroupInsert(collection);
    writers.set(collection, writer as unknown as GroupInsert<{ _id: string }>);
  }
  return writer;
}
