import { Schema } from 'mongoose';
import { openTestStore } from '../support/store';

describe('the MongoDB-compatible store through mongoose', () => {
  it('writes and reads back a document, and rejects a duplicate on a unique index', async () => {
    const store = await openTestStore('store');
    try {
      const Widget = store.connection.model('Widget', new Schema({ sku: { type: String, required: true, unique: true }, priceCents: Number }));
      await Widget.createIndexes();
      await Widget.create({ sku: 'top-up-50', priceCents: 5000 });

      const found = await Widget.findOne({ sku: 'top-up-50' }).lean();
      expect(found?.priceCents).toBe(5000);
      await expect(Widget.create({ sku: 'top-up-50', priceCents: 1 })).rejects.toMatchObject({ code: 11000 });
      expect(await Widget.countDocuments()).toBe(1);
    } finally {
      await store.close();
    }
  });
});
