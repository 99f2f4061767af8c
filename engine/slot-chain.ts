/**
 * Slot chains: a list that concurrent writers append to without ever
 * updating a document. The list under `prefix` is the documents
 * `<prefix>\u001f0`, `<prefix>\u001f1`, ...; a writer inserts into the first
 * free slot (a duplicate key means the slot is taken: try the next), and a
 * reader reads slots by `_id` from 0 until one is missing. Every read is by
 * `_id` (FerretDB answers nothing else from an index), and no append can be
 * lost to another, as one can with `$push` or `$addToSet` on a store that
 * runs an update as a read and a whole-document write (FerretDB 1.x).
 */
import type { mongo } from 'mongoose';
import { isDuplicateKeyError } from './store';

const SEPARATOR = '\u001f';

/** Slots one list may have: far more than any caller appends to one prefix. */
export const MAX_SLOTS = 10_000;

function slotId(prefix: string, slot: number): string {
  return `${prefix}${SEPARATOR}${slot}`;
}

/**
 * Inserts `doc` under the first free slot of `prefix`, unless a slot
 * already holds the same thing (`same`), which a retry may have written.
 */
export async function insertSlot<T extends { _id: string }>(collection: mongo.Collection<T>, prefix: string, doc: Omit<T, '_id'>, same: (existing: T) => boolean): Promise<void> {
  for (let slot = 0; slot < MAX_SLOTS; slot += 1) {
    const _id = slotId(prefix, slot);
    try {
      await collection.insertOne({ _id, ...doc } as mongo.OptionalUnlessRequiredId<T>);
      return;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const existing = (await collection.findOne({ _id } as mongo.Filter<T>)) as T | null;
    if (existing && same(existing)) return;
  }
  throw new Error(`more than ${MAX_SLOTS} slots under ${prefix}`);
}

/** Every slot of `prefix`, in order, up to the first free one. */
export async function readSlots<T extends { _id: string }>(collection: mongo.Collection<T>, prefix: string): Promise<T[]> {
  const found: T[] = [];
  for (let slot = 0; slot < MAX_SLOTS; slot += 1) {
    const doc = (await collection.findOne({ _id: slotId(prefix, slot) } as mongo.Filter<T>)) as T | null;
    if (!doc) break;
    found.push(doc);
  }
  return found;
}
