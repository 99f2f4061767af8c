import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';
import { temporalAddress } from '../support/temporal';
import { topUpTrigger } from '../support/top-up';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let api: TestApi;

beforeAll(async () => {
  store = await openTestStore('trigger_keys');
  connection = await Connection.connect({ address: temporalAddress() });
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection }), taskQueue: `test-${randomUUID()}` });
});

afterAll(async () => {
  await api?.close();
  await connection?.close();
  await store?.close();
});

const uniqueKey = () => `top-up-${randomUUID().slice(0, 8)}`;
const withKey = (key: string) => ({ ...topUpTrigger('account-top-up', 60), key });

describe('trigger keys', () => {
  it('returns the key, finds the trigger by it, and keeps it when a PUT leaves it out', async () => {
    const key = uniqueKey();
    const created = await api.request('POST', '/v1/triggers', withKey(key));
    expect(created.status).toBe(201);
    expect(created.body.key).toBe(key);

    const found = await api.request('GET', `/v1/triggers?key=${key}`);
    expect(found.body.items.map((t: { id: string }) => t.id)).toEqual([created.body.id]);
    expect((await api.request('GET', `/v1/triggers?key=${uniqueKey()}`)).body.items).toEqual([]);

    const updated = await api.request('PUT', `/v1/triggers/${created.body.id}`, { ...topUpTrigger('account-top-up', 60), name: 'Renamed' });
    expect(updated.body).toMatchObject({ version: 2, key, name: 'Renamed' });
    expect((await api.request('GET', `/v1/triggers/${created.body.id}/versions/1`)).body.key).toBe(key);
    const rolledBack = await api.request('POST', `/v1/triggers/${created.body.id}/rollback`, { version: 1 });
    expect(rolledBack.body).toMatchObject({ version: 3, key });
  });

  it('refuses a key another live trigger holds with a 409 naming key', async () => {
    const key = uniqueKey();
    const first = await api.request('POST', '/v1/triggers', withKey(key));
    const second = await api.request('POST', '/v1/triggers', withKey(key));
    expect(second.status).toBe(409);
    expect(second.body.code).toBe('trigger_key_taken');
    expect(second.body.errors).toEqual([expect.objectContaining({ path: 'key', message: expect.stringContaining(first.body.id) })]);
  });

  it('lets exactly one of several concurrent creates take a key', async () => {
    const key = uniqueKey();
    const responses = await Promise.all(Array.from({ length: 6 }, () => api.request('POST', '/v1/triggers', withKey(key))));
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const winner = responses.find((r) => r.status === 201)!;
    expect((await api.request('GET', `/v1/triggers?key=${key}`)).body.items.map((t: { id: string }) => t.id)).toEqual([winner.body.id]);
  });

  it('frees the key of a deleted trigger', async () => {
    const key = uniqueKey();
    const first = await api.request('POST', '/v1/triggers', withKey(key));
    expect((await api.request('DELETE', `/v1/triggers/${first.body.id}`)).status).toBe(204);
    expect((await api.request('GET', `/v1/triggers?key=${key}`)).body.items).toEqual([]);
    const again = await api.request('POST', '/v1/triggers', withKey(key));
    expect(again.status).toBe(201);
    expect((await api.request('GET', `/v1/triggers?key=${key}`)).body.items[0].id).toBe(again.body.id);
  });

  it('lets a PUT add a key to a trigger without one, but never change it', async () => {
    const created = await api.request('POST', '/v1/triggers', topUpTrigger('account-top-up', 60));
    expect(created.body.key).toBeUndefined();
    const key = uniqueKey();
    const keyed = await api.request('PUT', `/v1/triggers/${created.body.id}`, withKey(key));
    expect(keyed.body).toMatchObject({ version: 2, key });
    const changed = await api.request('PUT', `/v1/triggers/${created.body.id}`, withKey(uniqueKey()));
    expect(changed.status).toBe(422);
    expect(changed.body.errors).toEqual([expect.objectContaining({ path: 'key' })]);
  });

  it('refuses a key that is not a slug, and accepts one of exactly 100 characters', async () => {
    for (const bad of ['Top-Up', '-top-up', 'top up', 'a'.repeat(101)]) {
      const response = await api.request('POST', '/v1/triggers', withKey(bad));
      expect(response.status).toBe(422);
      expect(response.body.errors[0].path).toBe('key');
    }
    const longest = `${randomUUID().slice(0, 8)}${'k'.repeat(92)}`;
    expect((await api.request('POST', '/v1/triggers', withKey(longest))).status).toBe(201);
  });

  it('validates a definition without saving it, with defaults filled in', async () => {
    const key = uniqueKey();
    const validated = await api.request('POST', '/v1/triggers/validate', withKey(key));
    expect(validated.status).toBe(200);
    expect(validated.body.definition).toMatchObject({ key, enabled: true, tasks: [{ id: 'compute' }, { owner: '{{reservation.user.id}}' }, { to: '{{reservation.user.email}}' }] });
    expect((await api.request('GET', `/v1/triggers?key=${key}`)).body.items).toEqual([]);
    const invalid = await api.request('POST', '/v1/triggers/validate', { ...withKey(key), wait: { seconds: -1 } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.errors[0].path).toBe('wait.seconds');
  });
});
