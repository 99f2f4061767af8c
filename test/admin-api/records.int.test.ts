// Records of external objects on the real API, store and worker: versioned
// upserts that never roll back, lists by kind, state and owner, the record
// task, and writers on separate connections racing on one record.
import { randomUUID } from 'node:crypto';
import { connectStore } from '../../engine/store';
import { createRecordStore } from '../../engine/records/record-store';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('records');
});
afterAll(async () => {
  await engine?.close();
});

const put = (kind: string, id: string, body: unknown) => engine.api.request('PUT', `/v1/records/${kind}/${id}`, body);

describe('PUT /v1/records/{kind}/{id}', () => {
  it('creates a record, then keeps the higher version and ignores a lower one as stale', async () => {
    const id = `B-${randomUUID().slice(0, 8)}`;
    const created = await put('bill', id, { ownerId: 'cust-1', state: 'unsettled', amount: 4_200, unit: 'EUR', attributes: { dueDate: '2026-12-20' }, version: 2 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'bill', id, ownerId: 'cust-1', state: 'unsettled', amount: 4_200, unit: 'EUR', attributes: { dueDate: '2026-12-20' }, version: 2, stale: false });

    const settled = await put('bill', id, { ownerId: 'cust-1', state: 'settled', amount: 0, unit: 'EUR', version: 5 });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ state: 'settled', version: 5, stale: false });

    // A late delivery of version 3 must not bring the bill back to unsettled.
    const late = await put('bill', id, { ownerId: 'cust-1', state: 'partially_settled', amount: 1_000, unit: 'EUR', version: 3 });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ state: 'settled', version: 5, stale: true });
    expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).body).toMatchObject({ state: 'settled', version: 5, amount: 0 });
  });

  it('treats the same version with the same content as a replay, and with other content as 409 record_version_conflict', async () => {
    const id = `B-${randomUUID().slice(0, 8)}`;
    const body = { state: 'unsettled', amount: 100, unit: 'EUR', version: 1 };
    expect((await put('bill', id, body)).status).toBe(201);
    const replay = await put('bill', id, body);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ state: 'unsettled', version: 1, stale: false });
    const conflict = await put('bill', id, { ...body, state: 'settled' });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ code: 'record_version_conflict' });
    expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).body.state).toBe('unsettled');
  });

  it('refuses a record without version, with an amount but no unit, or with a bad kind, naming the field and storing nothing', async () => {
    const id = `B-${randomUUID().slice(0, 8)}`;
    const noVersion = await put('bill', id, { state: 'unsettled' });
    expect(noVersion.status).toBe(422);
    expect(noVersion.headers.get('content-type')).toContain('application/problem+json');
    expect(noVersion.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'version' })]));
    const noUnit = await put('bill', id, { state: 'unsettled', amount: 5, version: 1 });
    expect(noUnit.status).toBe(422);
    expect(noUnit.body.errors).toEqual([expect.objectContaining({ path: 'unit' })]);
    const badKind = await put('Bill', id, { state: 'unsettled', version: 1 });
    expect(badKind.status).toBe(422);
    expect(badKind.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'params.kind' })]));
    expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).status).toBe(404);
  });
});

describe('GET /v1/records', () => {
  it('lists records of a kind filtered by state and owner, page by page', async () => {
    const kind = `inv${randomUUID().slice(0, 6)}`;
    for (let i = 0; i < 5; i += 1) {
      expect((await put(kind, `I-${i}`, { ownerId: i < 3 ? 'alice' : 'bob', state: i % 2 === 0 ? 'unsettled' : 'settled', version: 1 })).status).toBe(201);
    }
    // A newer version moves I-0 out of the unsettled ones.
    await put(kind, 'I-0', { ownerId: 'alice', state: 'settled', version: 2 });
    const unsettled = await engine.api.request('GET', `/v1/records?kind=${kind}&state=unsettled`);
    expect(unsettled.body.items.map((r: { id: string }) => r.id)).toEqual(['I-2', 'I-4']);
    const alice = await engine.api.request('GET', `/v1/records?kind=${kind}&ownerId=alice`);
    expect(alice.body.items.map((r: { id: string }) => r.id)).toEqual(['I-0', 'I-1', 'I-2']);

    const first = await engine.api.request('GET', `/v1/records?kind=${kind}&limit=2`);
    expect(first.body.items.map((r: { id: string }) => r.id)).toEqual(['I-0', 'I-1']);
    const second = await engine.api.request('GET', `/v1/records?kind=${kind}&limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.items.map((r: { id: string }) => r.id)).toEqual(['I-2', 'I-3']);
    const third = await engine.api.request('GET', `/v1/records?kind=${kind}&limit=2&cursor=${encodeURIComponent(second.body.nextCursor)}`);
    expect(third.body).toEqual({ items: [expect.objectContaining({ id: 'I-4' })], nextCursor: null });
  });
});

describe('concurrent updates of one record', () => {
  it('keeps the highest version when writers on two connections race with shuffled versions', async () => {
    const second = await connectStore(process.env.MONGODB_URI!, { dbName: engine.connection.name });
    try {
      const stores = [createRecordStore(engine.connection), createRecordStore(second)];
      const id = `R-${randomUUID().slice(0, 8)}`;
      const versions = Array.from({ length: 40 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      const outcomes = await Promise.all(versions.map((version, i) => stores[i % 2]!.put('bill', id, { state: `s${version}`, version })));
      // Each write either became a version of its own or found a higher one stored; version 40 always wins.
      const stored = outcomes.filter((outcome) => !outcome.stale).map((outcome) => outcome.record.version);
      expect(new Set(stored).size).toBe(stored.length);
      expect(stored).toContain(40);
      for (const store of stores) expect(await store.find('bill', id)).toMatchObject({ version: 40, state: 's40' });
      expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).body).toMatchObject({ version: 40, state: 's40' });
      const listed = await engine.api.request('GET', '/v1/records?kind=bill&state=s40');
      expect(listed.body.items.map((r: { id: string }) => r.id)).toContain(id);
    } finally {
      await second.close();
    }
  });
});

describe('the record task', () => {
  it('upserts a record from event data, and a late event with a lower version leaves it as it is', async () => {
    const type = `bill${randomUUID().slice(0, 6)}.updated`;
    await engine.createTrigger({
      name: 'Mirror bills', on: { types: [type] },
      tasks: [{ id: 'mirror', type: 'record', kind: 'bill', recordId: '{{data.bill.id}}', state: '{{data.bill.state}}', ownerId: '{{data.bill.customer}}', amountFrom: 'data.bill.due', unit: 'EUR', versionFrom: 'data.bill.version', attributes: { dueDate: '{{data.bill.dueDate}}' } }],
    });
    const id = `B-${randomUUID().slice(0, 8)}`;
    const bill = { id, state: 'unsettled', customer: 'cust-9', due: 3_000, version: 7, dueDate: '2026-12-24' };
    const [run] = (await engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { bill } })).runs;
    expect(run!.status).toBe('completed');
    expect(run!.tasks[0].output).toMatchObject({ kind: 'bill', id, state: 'unsettled', ownerId: 'cust-9', amount: 3_000, unit: 'EUR', version: 7, attributes: { dueDate: '2026-12-24' }, stale: false });

    const [late] = (await engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { bill: { ...bill, state: 'draft', version: 6 } } })).runs;
    expect(late!.tasks[0].output).toMatchObject({ state: 'unsettled', version: 7, stale: true });
    expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).body).toMatchObject({ state: 'unsettled', version: 7 });
  });

  it('fails with record_version_invalid when the version is missing from the event, storing nothing', async () => {
    const type = `bill${randomUUID().slice(0, 6)}.updated`;
    await engine.createTrigger({ name: 'Mirror bills', on: { types: [type] }, tasks: [{ id: 'mirror', type: 'record', kind: 'bill', recordId: '{{data.id}}', state: 'unsettled', versionFrom: 'data.version' }] });
    const id = `B-${randomUUID().slice(0, 8)}`;
    const [run] = (await engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { id } })).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'record_version_invalid' } });
    expect((await engine.api.request('GET', `/v1/records/bill/${id}`)).status).toBe(404);
  });

  it('is refused at save without a version, naming the field', async () => {
    const response = await engine.api.request('POST', '/v1/triggers', { name: 'No version', on: { types: ['bill.updated'] }, tasks: [{ id: 'mirror', type: 'record', kind: 'bill', recordId: '{{data.id}}', state: 'unsettled' }] });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([expect.objectContaining({ path: 'tasks.0.version' })]);
  });
});
