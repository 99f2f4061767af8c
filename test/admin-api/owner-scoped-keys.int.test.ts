import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;
let portalKey: string;

beforeAll(async () => {
  store = await openTestStore('owner_keys');
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) }), taskQueue: `test-${randomUUID()}` });
  for (const owner of ['ada', 'bob']) {
    await api.request('POST', `/v1/accounts/${owner}/entries`, { unit: 'USD', direction: 'credit', amount: 1000, idempotencyKey: `seed-${owner}`, createIfMissing: true });
    await api.request('PUT', `/v1/customers/${owner}`, { name: owner });
  }
  const created = await api.request('POST', '/v1/api-keys', { name: 'Ada\'s portal', scopes: ['accounts:read'], ownerId: 'ada' });
  expect(created).toMatchObject({ status: 201, body: { ownerId: 'ada', scopes: ['accounts:read'] } });
  portalKey = created.body.secret;
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

it('reads its owner\'s account, entries, statement and profile', async () => {
  expect(await api.request('GET', '/v1/accounts/ada?unit=USD', undefined, { key: portalKey })).toMatchObject({ status: 200, body: { balance: 1000 } });
  expect(await api.request('GET', '/v1/accounts/ada/entries?unit=USD', undefined, { key: portalKey })).toMatchObject({ status: 200, body: { items: [{ amount: 1000 }] } });
  expect(await api.request('GET', '/v1/customers/ada', undefined, { key: portalKey })).toMatchObject({ status: 200, body: { name: 'ada' } });
  const csv = await fetch(`${api.baseUrl}/v1/accounts/ada/entries?unit=USD`, { headers: { accept: 'text/csv', authorization: `Bearer ${portalKey}` } });
  expect(csv.status).toBe(200);
});

it('answers another owner\'s account, entries and profile as if they did not exist (404)', async () => {
  for (const path of ['/v1/accounts/bob?unit=USD', '/v1/accounts/bob/entries?unit=USD', '/v1/customers/bob', '/v1/accounts/nobody?unit=USD']) {
    expect(await api.request('GET', path, undefined, { key: portalKey })).toMatchObject({ status: 404, body: { code: expect.stringMatching(/not_found$/) } });
  }
  const csv = await fetch(`${api.baseUrl}/v1/accounts/bob/entries?unit=USD`, { headers: { accept: 'text/csv', authorization: `Bearer ${portalKey}` } });
  expect(csv.status).toBe(404);
});

it('reaches no other route, not even lists that would show its own owner (403)', async () => {
  for (const [method, path] of [['GET', '/v1/accounts'], ['GET', '/v1/customers'], ['GET', '/v1/groups'], ['GET', '/v1/triggers']] as const) {
    expect((await api.request(method, path, undefined, { key: portalKey })).status).toBe(403);
  }
  expect((await api.request('POST', '/v1/accounts/ada/entries', { unit: 'USD', direction: 'credit', amount: 1, idempotencyKey: 'self-service' }, { key: portalKey })).status).toBe(403);
});

it('cannot be created with more than accounts:read', async () => {
  const refused = await api.request('POST', '/v1/api-keys', { name: 'Too much', scopes: ['accounts:read', 'accounts:write'], ownerId: 'ada' });
  expect(refused).toMatchObject({ status: 422, body: { errors: [{ path: 'scopes' }] } });
  const listed = await api.request('GET', '/v1/api-keys');
  expect(listed.body.items.map((k: { name: string }) => k.name)).not.toContain('Too much');
});
