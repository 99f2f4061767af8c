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
  store = await openTestStore('triggers_api');
  connection = await Connection.connect({ address: temporalAddress() });
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection }), taskQueue: `test-${randomUUID()}` });
});

afterAll(async () => {
  await api?.close();
  await connection?.close();
  await store?.close();
});

const valid = () => topUpTrigger('account-top-up', 60);

async function problemsFor(body: unknown) {
  const response = await api.request('POST', '/v1/triggers', body);
  expect(response.status).toBe(422);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  return response.body.errors as Array<{ path: string; message: string }>;
}

describe('trigger authoring', () => {
  it('saves the documented trigger as version 1 with defaults filled in', async () => {
    const created = await api.request('POST', '/v1/triggers', valid());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ version: 1, enabled: true, name: valid().name });
    expect(created.body.id).toMatch(/^trg_/);
    expect(created.body.tasks[1]).toMatchObject({ owner: '{{reservation.user.id}}', unit: 'USD', createIfMissing: true });
    expect(created.body.tasks[2]).toMatchObject({ to: '{{reservation.user.email}}' });
  });

  it('refuses unknown fields, naming them', async () => {
    const errors = await problemsFor({ ...valid(), colour: 'blue' });
    expect(errors[0]!.message).toContain('colour');
  });

  it('refuses an inputTaskId that does not name an earlier task', async () => {
    const body = valid();
    body.tasks[1] = { ...body.tasks[1]!, inputTaskId: 'notify' };
    expect(await problemsFor(body)).toEqual([expect.objectContaining({ path: 'tasks.1.inputTaskId' })]);
  });

  it('refuses duplicate task ids', async () => {
    const body = valid();
    body.tasks[2] = { ...body.tasks[2]!, id: 'compute' };
    expect((await problemsFor(body)).map((p) => p.path)).toContain('tasks.2.id');
  });

  it('refuses a script that does not compile, with the line and column in the admin code', async () => {
    const errors = await problemsFor(topUpTrigger('account-top-up', 0, 'let a = 1;\nreturn {;'));
    expect(errors[0]!.path).toBe('tasks.0.code');
    expect(errors[0]!.message).toMatch(/line 2/);
  });

  it('refuses a template that does not exist', async () => {
    const body = valid();
    body.tasks[2] = { ...body.tasks[2]!, template: 'no-such-template' };
    expect(await problemsFor(body)).toEqual([expect.objectContaining({ path: 'tasks.2.template' })]);
  });

  it('refuses a filter with an unknown operator', async () => {
    const body = { ...valid(), on: { types: ['request.created'], filter: { 'data.reservation.price_int': { $near: 3 } } } };
    expect(await problemsFor(body)).toEqual([expect.objectContaining({ path: 'on.filter' })]);
  });

  it('accepts a wait of exactly a year and refuses a second more', async () => {
    expect((await api.request('POST', '/v1/triggers', { ...valid(), wait: { seconds: 31_536_000 } })).status).toBe(201);
    expect((await problemsFor({ ...valid(), wait: { seconds: 31_536_001 } }))[0]!.path).toBe('wait.seconds');
  });

  it('accepts 20 tasks and refuses 21', async () => {
    const emails = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `mail${i}`, type: 'email', subject: 'Hi', text: 'Hello' }));
    expect((await api.request('POST', '/v1/triggers', { ...valid(), tasks: emails(20) })).status).toBe(201);
    expect((await problemsFor({ ...valid(), tasks: emails(21) }))[0]!.path).toBe('tasks');
  });

  it('keeps every version, and a deleted trigger is gone', async () => {
    const created = await api.request('POST', '/v1/triggers', valid());
    const id = created.body.id;
    const updated = await api.request('PUT', `/v1/triggers/${id}`, { ...valid(), name: 'Renamed' });
    expect(updated.body).toMatchObject({ version: 2, name: 'Renamed' });
    const stale = await api.request('PUT', `/v1/triggers/${id}`, valid(), { headers: { 'if-match': '1' } });
    expect(stale.status).toBe(409);

    const versions = await api.request('GET', `/v1/triggers/${id}/versions`);
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await api.request('GET', `/v1/triggers/${id}/versions/1`)).body.name).toBe(valid().name);

    expect((await api.request('DELETE', `/v1/triggers/${id}`)).status).toBe(204);
    expect((await api.request('GET', `/v1/triggers/${id}`)).status).toBe(404);
  });

  it('pages through triggers newest first without repeats', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await api.request('GET', `/v1/triggers?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      for (const item of page.body.items) {
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.size).toBeGreaterThanOrEqual(3);
  });
});

describe('the API surface', () => {
  it('answers 401 without a key and with a wrong one', async () => {
    expect((await api.request('GET', '/v1/triggers', undefined, { key: null })).status).toBe(401);
    expect((await api.request('GET', '/v1/triggers', undefined, { key: 'wrong-key-wrong-key' })).status).toBe(401);
  });

  it('answers 400 for malformed JSON and 413 for a body over the limit', async () => {
    const malformed = await api.request('POST', '/v1/triggers', undefined, { raw: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');
    const huge = await api.request('POST', '/v1/events', undefined, { raw: JSON.stringify({ id: 'x', type: 'a.b', data: { blob: 'x'.repeat(api.config.BODY_LIMIT_BYTES) } }) });
    expect(huge.status).toBe(413);
  });

  it('refuses deeply nested event data and over-long strings, naming the field', async () => {
    // 20,000 levels: far past the depth limit, and within the event body limit (about 180 KB of 256 KB).
    const levels = 20_000;
    const deep = `{"id":"evt_deep","type":"request.created","data":${'{"next":'.repeat(levels)}1${'}'.repeat(levels)}}`;
    expect(Buffer.byteLength(deep)).toBeLessThan(api.config.EVENT_BODY_LIMIT_BYTES);
    const nested = await api.request('POST', '/v1/events', undefined, { raw: deep });
    expect(nested.status).toBe(422);
    expect(nested.body.errors[0].path).toBe('data');

    const longName = await api.request('POST', '/v1/triggers', { ...valid(), name: 'x'.repeat(10_000) });
    expect(longName.status).toBe(422);
    expect(longName.body.errors[0].path).toBe('name');
    const longId = await api.request('POST', '/v1/events', { id: 'e'.repeat(201), type: 'request.created', data: {} });
    expect(longId.body.errors[0].path).toBe('id');
  });

  it('reports the store and Temporal as ready', async () => {
    const ready = await api.request('GET', '/readyz', undefined, { key: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { store: { ok: true }, temporal: { ok: true } } });
  });
});
