import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../../support/engine-harness';

jest.setTimeout(120_000);

// A database of its own: a trigger on account.balance_changed in another
// suite's database would make every balance change here a listened-to one.
let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('quiet_balance_events', { balanceEvents: true });
});

afterAll(async () => {
  await engine?.close();
});

async function credit(ownerId: string, amount: number): Promise<string> {
  const response = await engine.api.request('POST', `/v1/accounts/${encodeURIComponent(ownerId)}/entries`, { unit: 'USD', direction: 'credit', amount, idempotencyKey: randomUUID(), createIfMissing: true });
  expect(response.status).toBe(201);
  return `bal:${response.body.id}`;
}

/** GET /v1/events/{id} once the event is dispatched. */
async function dispatched(id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await engine.api.request('GET', `/v1/events/${encodeURIComponent(id)}`);
    if (response.status === 200 && response.body.status === 'dispatched') return response.body;
    if (Date.now() > deadline) throw new Error(`event ${id} was not dispatched in time (last answer ${response.status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const dispatchRecord = (id: string) => engine.connection.collection('event_dispatches').findOne({ _id: id as never });

describe('a balance change no trigger listens to', () => {
  it('is stored already dispatched, with no dispatch record of its own, and reads like any dispatched event', async () => {
    const owner = `quiet-${randomUUID().slice(0, 8)}`;
    const id = await credit(owner, 700);
    const event = await dispatched(id);
    expect(event).toMatchObject({ id, type: 'account.balance_changed', status: 'dispatched', runs: [], signalled: [], alreadyClosed: [], released: [] });
    expect(event).not.toHaveProperty('dispatch');
    expect(await dispatchRecord(id)).toBeNull();

    const listed = await engine.api.request('GET', '/v1/events?type=account.balance_changed&limit=50');
    expect(listed.body.items.find((item: { id: string }) => item.id === id)).toMatchObject({ status: 'dispatched', runs: [] });
  });

  it('goes through the whole dispatch once a trigger listens to the type, even one whose filter does not match', async () => {
    const owner = `listened-${randomUUID().slice(0, 8)}`;
    await engine.createTrigger({ name: `Never ${owner}`, on: { types: ['account.balance_changed'], filter: { 'data.account.ownerId': `nobody-${owner}` } }, tasks: [{ id: 'n', type: 'script', code: 'return {};' }] });
    const id = await credit(owner, 300);
    const event = await dispatched(id);
    expect(event).toMatchObject({ status: 'dispatched', runs: [] });
    expect(await dispatchRecord(id)).toMatchObject({ runs: [], signalled: [] });
  });
});
