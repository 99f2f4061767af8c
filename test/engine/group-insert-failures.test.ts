// How a bulk insert's error is read (engine/group-insert.ts), shared by the
// group writer and the ledger's key-claim backfill: only an answer that
// accounts for every document says which ones were refused.
import { perDocumentFailures } from '../../engine/group-insert';

const duplicate = (index: number) => ({ index, code: 11000, errmsg: 'E11000 duplicate key' });

describe('perDocumentFailures', () => {
  it('lists the refused documents when inserted plus refused make the whole batch', () => {
    expect(perDocumentFailures({ writeErrors: [duplicate(0), duplicate(2)], insertedCount: 1 }, 3)).toEqual([duplicate(0), duplicate(2)]);
    expect(perDocumentFailures({ writeErrors: duplicate(1), result: { insertedCount: 2 } }, 3)).toEqual([duplicate(1)]);
  });

  it('answers null for a failed command: no write errors and nothing inserted is not "all stored"', () => {
    expect(perDocumentFailures({ writeErrors: [], insertedCount: 0 }, 3)).toBeNull();
    expect(perDocumentFailures(new Error('connection reset'), 3)).toBeNull();
  });

  it('answers null when the counts do not cover the batch, or a write concern error came with them', () => {
    expect(perDocumentFailures({ writeErrors: [duplicate(0)], insertedCount: 0 }, 3)).toBeNull();
    expect(perDocumentFailures({ writeErrors: [duplicate(0)], insertedCount: 2, err: { code: 64 } }, 3)).toBeNull();
  });
});
