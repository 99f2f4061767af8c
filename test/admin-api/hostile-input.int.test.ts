import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { encodeCursorKey } from '../../engine/cursor';
import { startTestApi, type TestApi } from '../support/api';
import { openTestStore } from '../support/store';

// Requests an attacker would send (issue 15, item 7): each is refused with a
// 4xx naming what is wrong, before it reaches the store or Temporal.

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;

beforeAll(async () => {
  store = await openTestStore('hostile_input');
  // A lazy connection to nowhere: any request that reached Temporal would fail, not answer 4xx.
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }), taskQueue: `test-${randomUUID()}` });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const credit = { unit: 'USD', direction: 'credit', amount: 100, createIfMissing: true };

describe('malformed requests', () => {
  it('answers a path with broken percent-encoding with 400 malformed_url', async () => {
    const response = await api.request('GET', '/v1/accounts/%FF');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ code: 'malformed_url' });
  });

  it('answers a body whose Content-Encoding does not decode with 400 body_unreadable', async () => {
    const response = await api.request('POST', '/v1/accounts/user_1/entries', undefined, { raw: 'not brotli at all', headers: { 'content-encoding': 'br' } });
    expect(response).toMatchObject({ status: 400, body: { code: 'body_unreadable' } });
  });

  it('answers an unsupported Content-Encoding with 415, as documented for JSON routes', async () => {
    const response = await api.request('POST', '/v1/accounts/user_1/entries', undefined, { raw: '{}', headers: { 'content-encoding': 'compress' } });
    expect(response).toMatchObject({ status: 415, body: { code: 'unsupported_encoding' } });
    const document = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(document.paths['/v1/accounts/{ownerId}/entries']?.post?.responses).toHaveProperty('415');
    expect(document.paths['/v1/accounts/{ownerId}/entries']?.get?.responses).not.toHaveProperty('415');
  });
});

describe('well-formed Unicode', () => {
  it('refuses a lone surrogate in a body string with 422 naming the field', async () => {
    const raw = JSON.stringify({ ...credit, idempotencyKey: 'surrogate-1' }).replace('surrogate-1', 'surrogate-\\ud800');
    expect(await api.request('POST', '/v1/accounts/user_1/entries', undefined, { raw })).toMatchObject({ status: 422, body: { code: 'string_not_well_formed', errors: [{ path: 'idempotencyKey' }] } });
  });

  it('refuses a lone surrogate nested in event data, and in an object key', async () => {
    const nested = '{"id":"evt_u1","type":"request.created","data":{"user":{"name":"\\udc00x"}}}';
    expect(await api.request('POST', '/v1/events', undefined, { raw: nested })).toMatchObject({ status: 422, body: { errors: [{ path: 'data.user.name' }] } });
    const key = '{"id":"evt_u2","type":"request.created","data":{"\\ud800":1}}';
    expect(await api.request('POST', '/v1/events', undefined, { raw: key })).toMatchObject({ status: 422, body: { code: 'string_not_well_formed' } });
  });

  it('accepts a well-formed surrogate pair', async () => {
    const raw = JSON.stringify({ ...credit, idempotencyKey: 'pair-\ud83d\ude00' });
    expect((await api.request('POST', '/v1/accounts/user_1/entries', undefined, { raw })).status).toBe(201);
  });
});

describe('entry cursors', () => {
  it('answers a cursor past the newest entry with 400 cursor_invalid', async () => {
    await api.request('POST', '/v1/accounts/cursor_owner/entries', { ...credit, idempotencyKey: 'cursor-1' });
    await api.request('POST', '/v1/accounts/cursor_owner/entries', { ...credit, idempotencyKey: 'cursor-2' });
    // seq 3 is one past the newest (2): it pages from entry 2, the newest.
    expect(await api.request('GET', `/v1/accounts/cursor_owner/entries?unit=USD&cursor=${encodeCursorKey({ seq: 3 })}`)).toMatchObject({ status: 200, body: { items: [{ seq: 2 }, { seq: 1 }] } });
    const past = await api.request('GET', `/v1/accounts/cursor_owner/entries?unit=USD&cursor=${encodeCursorKey({ seq: 50 })}`);
    expect(past).toMatchObject({ status: 400, body: { code: 'cursor_invalid', errors: [{ path: 'cursor' }] } });
    expect(await api.request('GET', '/v1/accounts/cursor_owner/entries?unit=USD&cursor=AAAA')).toMatchObject({ status: 400, body: { code: 'cursor_invalid' } });
  });
});

describe('run list filters', () => {
  it.each([
    ['triggerId', 'triggerId=x%00'],
    ['triggerId', 'triggerId=x'],
    ['eventId', 'eventId=evt%01'],
    ['cursor', 'cursor=AAAA'],
  ])('refuses a bad %s before it reaches Temporal (%s)', async (field, query) => {
    const response = await api.request('GET', `/v1/runs?${query}`);
    expect([400, 422]).toContain(response.status);
    expect(response.body).toMatchObject({ errors: [{ path: expect.stringMatching(new RegExp(`^(query\\.)?${field}$`)) }] });
  });
});
