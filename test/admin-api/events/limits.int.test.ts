// Events get their own, smaller body limit and a bound on how many values
// their data holds, since every byte is parsed, validated and hashed on the
// API's one thread; admin requests keep the general limit.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { MAX_EVENT_VALUES } from '../../../admin-api/events/routes';
import { startTestApi, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let api: TestApi;
const EVENT_LIMIT = 64 * 1024;

beforeAll(async () => {
  store = await openTestStore('event_limits');
  connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection }), taskQueue: `test-${randomUUID()}`, env: { EVENT_BODY_LIMIT_BYTES: String(EVENT_LIMIT) } });
});

afterAll(async () => {
  await api?.close();
  await connection?.close();
  await store?.close();
});

/** An event whose JSON body is exactly `bytes` long. */
function eventOfSize(bytes: number) {
  const base = { id: `evt_${randomUUID()}`, type: 'probe.created', data: { note: '' } };
  return { ...base, data: { note: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(base))) } };
}

describe('the event body limit (EVENT_BODY_LIMIT_BYTES)', () => {
  it('accepts an event of exactly the limit and refuses one byte more with 413, while admin routes keep the general limit', async () => {
    const atLimit = eventOfSize(EVENT_LIMIT);
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(EVENT_LIMIT);
    expect((await api.request('POST', '/v1/events', atLimit)).status).toBe(202);

    const over = eventOfSize(EVENT_LIMIT + 1);
    const refused = await api.request('POST', '/v1/events', over);
    expect(refused.status).toBe(413);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');

    // The same event is fine where the general 1 MB limit applies: a dry run of it.
    const { id: _id, ...event } = over;
    expect((await api.request('POST', '/v1/triggers/dry-run', { event })).status).toBe(200);
  });
});

describe('the number of values in event data', () => {
  it(`accepts ${MAX_EVENT_VALUES} values and refuses one more with 422 naming data`, async () => {
    const values = (count: number) => ({ items: Array.from({ length: count - 1 }, (_, i) => i) });
    expect((await api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type: 'probe.created', data: values(MAX_EVENT_VALUES) })).status).toBe(202);
    const refused = await api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type: 'probe.created', data: values(MAX_EVENT_VALUES + 1) });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([expect.objectContaining({ path: 'data', message: expect.stringContaining(`at most ${MAX_EVENT_VALUES} values`) })]);
  });
});
