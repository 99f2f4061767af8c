import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DEMO_TRIGGER_KEY, DEMO_WAIT_SECONDS, seedDemoTrigger } from '../../devstack/demo-seed';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { temporalAddress } from '../support/temporal';
import { topUpTrigger } from '../support/top-up';

let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: temporalAddress() });
});

afterAll(async () => {
  await connection?.close();
});

async function withApi(label: string, test: (api: TestApi) => Promise<void>): Promise<void> {
  const store = await openTestStore(label);
  const api = await startTestApi({ store: store.connection, temporal: new Client({ connection }), taskQueue: `test-${randomUUID()}` });
  try {
    await test(api);
  } finally {
    await api.close();
    await store.close();
  }
}

describe('the dev stack seeding', () => {
  it('applies the example trigger with the demo window, and the renewal sweep, on an empty database, once', async () => {
    await withApi('seed_empty', async (api) => {
      const id = await seedDemoTrigger(api.baseUrl, TEST_ADMIN_KEY);
      const found = (await api.request('GET', `/v1/triggers?key=${DEMO_TRIGGER_KEY}`)).body.items;
      expect(found).toEqual([expect.objectContaining({ id, version: 1, wait: { seconds: DEMO_WAIT_SECONDS }, name: 'Account top-up' })]);
      expect(await seedDemoTrigger(api.baseUrl, TEST_ADMIN_KEY)).toBe(id);
      expect((await api.request('GET', `/v1/triggers/${id}`)).body.version).toBe(1);
      // The renewal sweep the product ships comes with it.
      expect((await api.request('GET', '/v1/triggers?key=subscription-renewals')).body.items).toEqual([expect.objectContaining({ name: 'Subscription renewals', version: 1 })]);
    });
  });

  it('leaves a database with triggers of its own alone', async () => {
    await withApi('seed_other', async (api) => {
      await api.request('POST', '/v1/triggers', topUpTrigger('something-else', 60));
      expect(await seedDemoTrigger(api.baseUrl, TEST_ADMIN_KEY)).toBeNull();
      expect((await api.request('GET', `/v1/triggers?key=${DEMO_TRIGGER_KEY}`)).body.items).toEqual([]);
    });
  });
});
