import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, Connection } from '@temporalio/client';
import { createLedger, type Ledger } from '../../../engine/ledger';
import { ledgerModels } from '../../../engine/ledger/models';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../../support/api';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let api: TestApi;
let now = new Date('2026-11-01T00:00:00Z');
let ledger: Ledger;

beforeAll(async () => {
  store = await openTestStore('statements');
  api = await startTestApi({ store: store.connection, temporal: new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '' }) }), taskQueue: `test-${randomUUID()}` });
  ledger = createLedger({ connection: store.connection, clock: () => now });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

/** Posts on the given days of November 2026 (one entry each), credits of 100 x day. */
async function postOnDays(ownerId: string, days: number[]): Promise<void> {
  for (const day of days) {
    now = new Date(`2026-11-${String(day).padStart(2, '0')}T12:00:00Z`);
    await ledger.post({ ownerId, unit: 'USD', direction: 'credit', amount: 100 * day, idempotencyKey: `${ownerId}-${day}`, createIfMissing: true, comment: `day ${day}`, source: { kind: 'api', keyId: 'test' } });
  }
}

async function csv(path: string, key = TEST_ADMIN_KEY): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${api.baseUrl}${path}`, { headers: { accept: 'text/csv', authorization: `Bearer ${key}` } });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('entries by time', () => {
  beforeAll(() => postOnDays('timed', [1, 3, 5, 7, 9, 11]));

  it('keep entries posted from `from` (inclusive) to `to` (exclusive), newest first', async () => {
    const page = await api.request('GET', '/v1/accounts/timed/entries?unit=USD&from=2026-11-03T12:00:00Z&to=2026-11-09T12:00:00Z');
    expect(page.status).toBe(200);
    expect(page.body.items.map((e: { comment: string }) => e.comment)).toEqual(['day 7', 'day 5', 'day 3']);
  });

  it('page through a range with the cursor, without leaving it', async () => {
    const first = await api.request('GET', '/v1/accounts/timed/entries?unit=USD&from=2026-11-02T00:00:00Z&limit=2');
    expect(first.body.items.map((e: { comment: string }) => e.comment)).toEqual(['day 11', 'day 9']);
    const second = await api.request('GET', `/v1/accounts/timed/entries?unit=USD&from=2026-11-02T00:00:00Z&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((e: { comment: string }) => e.comment)).toEqual(['day 7', 'day 5']);
    const third = await api.request('GET', `/v1/accounts/timed/entries?unit=USD&from=2026-11-02T00:00:00Z&limit=2&cursor=${second.body.nextCursor}`);
    expect(third.body).toMatchObject({ items: [{ comment: 'day 3' }], nextCursor: null });
  });

  it('answer an empty page for a range with no entries, and 422 for from after to or a date that is none', async () => {
    expect((await api.request('GET', '/v1/accounts/timed/entries?unit=USD&from=2026-12-01T00:00:00Z')).body).toEqual({ items: [], nextCursor: null });
    expect(await api.request('GET', '/v1/accounts/timed/entries?unit=USD&from=2026-11-09T00:00:00Z&to=2026-11-01T00:00:00Z')).toMatchObject({ status: 422, body: { code: 'time_range_invalid', errors: [{ path: 'from' }] } });
    expect(await api.request('GET', '/v1/accounts/timed/entries?unit=USD&from=yesterday')).toMatchObject({ status: 422, body: { errors: [{ path: 'query.from' }] } });
  });
});

describe('CSV statements', () => {
  beforeAll(() => postOnDays('csv', [2, 4, 6]));

  it('list the range oldest first with the running balance', async () => {
    const statement = await csv('/v1/accounts/csv/entries?unit=USD&from=2026-11-03T00:00:00Z');
    expect(statement.status).toBe(200);
    expect(statement.type).toMatch(/^text\/csv/);
    const [header, ...rows] = statement.text.trimEnd().split('\r\n');
    expect(header).toBe('date,seq,entry_id,direction,amount,balance,comment,source,idempotency_key');
    expect(rows).toEqual([
      '2026-11-04T12:00:00.000Z,2,USD:csv:2,credit,400,600,day 4,api:test,csv-4',
      '2026-11-06T12:00:00.000Z,3,USD:csv:3,credit,600,1200,day 6,api:test,csv-6',
    ]);
  });

  it('quote commas and quotes, and keep a comment from running as a spreadsheet formula', async () => {
    await api.request('POST', '/v1/accounts/quoted/entries', { unit: 'USD', direction: 'credit', amount: 5, idempotencyKey: 'q1', createIfMissing: true, comment: '=HYPERLINK("x"), really' });
    const rows = (await csv('/v1/accounts/quoted/entries?unit=USD')).text.trimEnd().split('\r\n');
    expect(rows[1]).toContain(',"\'=HYPERLINK(""x""), really",');
  });

  it('is 404 for an account that does not exist', async () => {
    const statement = await csv('/v1/accounts/nobody/entries?unit=USD');
    expect(statement.status).toBe(404);
    expect(JSON.parse(statement.text)).toMatchObject({ code: 'account_not_found' });
  });

  // 25,000 entries keep this test within a minute or two on FerretDB (one `_id` read per entry);
  // the README's 100,000-entry figure was measured the same way.
  it('streams a 25,000-entry statement without holding its entries in memory', async () => {
    const count = 25_000;
    await seedLongAccount('long', count);
    // What the process retains, not the garbage it has yet to collect: a full collection before each sample.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const heapBefore = retained();
    let heapPeak = heapBefore;
    // Sampled at the first chunk, a quarter, half and three quarters of the way: a statement built before it is
    // sent is all in memory at the first chunk, one buffered as it goes holds most of it later. A full
    // collection every few seconds instead would cost this process (which has run many suites before) more
    // than the statement itself.
    const samplePoints = [1, count / 4, count / 2, (3 * count) / 4];
    const started = Date.now();
    const response = await fetch(`${api.baseUrl}/v1/accounts/long/entries?unit=CREDIT`, { headers: { accept: 'text/csv', authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    // Count rows as they arrive, keeping nothing but the last partial line.
    let rows = 0;
    let lastLine = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      const lines = (lastLine + decoder.decode(chunk as Uint8Array, { stream: true })).split('\r\n');
      lastLine = lines.pop()!;
      rows += lines.length;
      while (samplePoints.length > 0 && rows >= samplePoints[0]!) {
        samplePoints.shift();
        heapPeak = Math.max(heapPeak, retained());
      }
    }
    expect(samplePoints).toEqual([]);
    const growthMb = (heapPeak - heapBefore) / 2 ** 20;
    console.info(`CSV statement of ${count} entries: ${Date.now() - started} ms, peak retained heap growth ${growthMb.toFixed(1)} MB`);
    expect(rows).toBe(count + 1);
    // Holding the 25,000 entries (or their rows) at once would retain 15 MB or more in this process, which runs both API and client;
    // streaming retains a batch of 200 at a time (3 to 4 MB measured, with the noise of the rest of the process).
    expect(growthMb).toBeLessThan(8);
  }, 900_000);
});

/** Writes a consistent account of `count` credits of 1 straight into the store (posting them one by one would take minutes). */
async function seedLongAccount(ownerId: string, count: number): Promise<void> {
  const { entries, accounts } = ledgerModels(store.connection);
  const accountId = `CREDIT:${ownerId}`;
  const start = Date.parse('2026-10-01T00:00:00Z');
  for (let from = 1; from <= count; from += 2_000) {
    const docs = [];
    for (let seq = from; seq < from + 2_000 && seq <= count; seq += 1) {
      docs.push({ _id: `${accountId}:${seq}`, accountId, ownerId, unit: 'CREDIT', seq, direction: 'credit' as const, amount: 1, balanceAfter: seq, negativeSince: null, idempotencyKey: `seed:${ownerId}:${seq}`, comment: `seeded entry number ${seq}`, source: { kind: 'api' as const, keyId: 'seed' }, createdAt: new Date(start + seq * 1000) });
    }
    await entries.insertMany(docs, { ordered: false });
  }
  const at = new Date(start + count * 1000);
  await accounts.insertOne({ _id: accountId, ownerId, unit: 'CREDIT', balance: count, seq: count, negativeSince: null, minBalance: null, maxNegativeDays: null, createdAt: new Date(start), updatedAt: at });
}
