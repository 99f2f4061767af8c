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
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      if (!Array.isArray(writeErrors) && !(writeErrors && typeof writeErrors === 'object')) {
        // The command itself failed (connection lost, ...): no document's fate is known.
        for (const p of batch) p.reject(error);
        return;
      }
      const list = (Array.isArray(writeErrors) ? writeErrors : [writeErrors]) as Array<{ index: number; code?: number; errmsg?: string }>;
      for (const failure of list) failures.set(failure.index, new GroupInsertError(failure.code, failure.errmsg ?? 'insert failed'));
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
