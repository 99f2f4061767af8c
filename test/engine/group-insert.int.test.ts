import type { mongo } from 'mongoose';
import { GroupInsert, groupInsert } from '../../engine/group-insert';
import { startTestStack } from '../../devstack/test-stack';
import { connectStore, isDuplicateKeyError } from '../../engine/store';
import { openTestStore } from '../support/store';

interface Doc { _id: string; n: number; tag?: string }

let store: Awaited<ReturnType<typeof openTestStore>>;
let collection: mongo.Collection<Doc>;

beforeAll(async () => {
  store = await openTestStore('group_insert');
  collection = store.connection.collection<Doc>('docs');
  await collection.createIndex({ tag: 1 }, { unique: true, sparse: true });
});
afterAll(() => store.close());

/** Settles every promise, keeping each one's outcome in order. */
async function outcomes(promises: Array<Promise<void>>): Promise<string[]> {
  return Promise.all(promises.map((p) => p.then(() => 'stored', (error: unknown) => (isDuplicateKeyError(error) ? 'duplicate' : `error: ${String(error)}`))));
}

describe('group insert', () => {
  it('stores concurrent documents with one outcome each: a duplicate _id or unique key fails alone', async () => {
    await collection.insertOne({ _id: 'taken', n: 0 });
    await collection.insertOne({ _id: 'tagged', n: 0, tag: 'red' });
    const writer = new GroupInsert(collection);
    const docs: Doc[] = [
      ...Array.from({ length: 30 }, (_, i) => ({ _id: `doc-${i}`, n: i })),
      { _id: 'taken', n: 99 },
      { _id: 'fresh-red', n: 98, tag: 'red' },
      { _id: 'doc-3', n: 97 },
    ];
    const results = await outcomes(docs.map((doc) => writer.insert(doc)));
    expect(results.slice(0, 30).every((r) => r === 'stored')).toBe(true);
    expect(results.slice(30)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(await collection.countDocuments({ _id: { $regex: /^doc-/ } })).toBe(30);
    expect(await collection.findOne({ _id: 'taken' })).toMatchObject({ n: 0 });
    expect(await collection.findOne({ _id: 'fresh-red' })).toBeNull();
    expect(await collection.findOne({ _id: 'doc-3' })).toMatchObject({ n: 3 });
  });

  it('sends a lone insert at once and shares one writer per collection', async () => {
    await groupInsert(collection).insert({ _id: 'lone', n: 1 });
    expect(await collection.findOne({ _id: 'lone' })).toMatchObject({ n: 1 });
    expect(groupInsert(collection)).toBe(groupInsert(collection));
    await expect(groupInsert(collection).insert({ _id: 'lone', n: 2 })).rejects.toMatchObject({ code: 11000 });
  });

  it('reports no document as stored when the store is gone: every insert of the batch fails', async () => {
    // A store of its own, stopped under the writer (the shared test store must stay up).
    const own = await startTestStack({}, { ferretdb: true, temporal: false, maildev: false });
    const connection = await connectStore(own.env.MONGODB_URI!, { dbName: 'group_insert_down' });
    const docs = connection.collection<Doc>('docs');
    const writer = new GroupInsert(docs);
    try {
      await writer.insert({ _id: 'before', n: 0 });
      await own.stop();
      const results = await outcomes(['a', 'b', 'c', 'd'].map((id, n) => writer.insert({ _id: id, n })));
      expect(results).toHaveLength(4);
      for (const result of results) expect(result).toMatch(/^error: /);
    } finally {
      await connection.close(true).catch(() => undefined);
      await own.stop().catch(() => undefined);
    }
  }, 60_000);
});
