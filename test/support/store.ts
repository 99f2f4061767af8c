import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { connectStore } from '../../engine/store';

/**
 * A connection to a fresh, uniquely named database on the test store
 * (MONGODB_URI, set by the integration global setup), dropped by `close`.
 */
export async function openTestStore(label: string): Promise<{ connection: Connection; uri: string; dbName: string; close: () => Promise<void> }> {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: integration tests run under the jest integration project');
  const dbName = `cf_test_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const connection = await connectStore(uri, { dbName });
  return {
    connection,
    uri,
    dbName,
    close: async () => {
      await connection.dropDatabase().catch(() => undefined);
      await connection.close();
    },
  };
}
