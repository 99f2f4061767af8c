// The account task's additions (amountFrom, unitFrom, action auto) and its
// refusals, on a real API, worker and ledger.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('account_task');
});

afterAll(async () => {
  await engine?.close();
});

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;
const eventType = () => `${unique('acct').toLowerCase()}.created`;
const event = (type: string, data: Record<string, unknown>) => ({ id: unique('evt'), type, data });

async function fund(ownerId: string, amount: number, unit = 'USD'): Promise<void> {
  const response = await engine.api.request('POST', `/v1/accounts/${ownerId}/entries`, { unit, direction: 'credit', amount, idempotencyKey: unique('fund'), createIfMissing: true });
  expect(response.status).toBe(201);
}

describe('amountFrom and unitFrom', () => {
  it('posts the integer at amountFrom in the unit at unitFrom', async () => {
    const type = eventType();
    await engine.createTrigger({ name: 'Price to balance', on: { types: [type] }, tasks: [{ id: 'credit', type: 'account', action: 'credit', amountFrom: 'reservation.price_int', unitFrom: 'reservation.currency', owner: '{{reservation.user.id}}', createIfMissing: true }] });
    const owner = unique('user');
    const [run] = (await engine.sendAndSettle(event(type, { reservation: { price_int: 4250, currency: 'EUR', user: { id: owner } } }))).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'completed', output: { ownerId: owner, unit: 'EUR', direction: 'credit', amount: 4250, balanceAfter: 4250 } });
    expect(await engine.balanceOf(owner, 'EUR')).toBe(4250);
  });

  it('fails the task with a clear code, posting nothing, when the data is not an integer amount or a unit', async () => {
    const type = eventType();
    await engine.createTrigger({ name: 'Strict', on: { types: [type] }, tasks: [{ id: 'credit', type: 'account', action: 'credit', amountFrom: 'data.amount', unitFrom: 'data.unit', owner: '{{data.owner}}', createIfMissing: true }] });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ amount: 12.5, unit: 'USD' }, 'amount_invalid'],
      [{ amount: '1250', unit: 'USD' }, 'amount_invalid'],
      [{ amount: -5, unit: 'USD' }, 'amount_invalid'],
      [{ amount: 1_000_000_000_001, unit: 'USD' }, 'amount_invalid'],
      [{ amount: 100, unit: 'usd' }, 'unit_invalid'],
      [{ unit: 'USD' }, 'amount_invalid'],
    ];
    for (const [data, code] of cases) {
      const owner = unique('user');
      const [run] = (await engine.sendAndSettle(event(type, { ...data, owner }))).runs;
      expect({ data, status: run!.status, code: run!.tasks[0].error?.code }).toEqual({ data, status: 'failed', code });
      expect(await engine.balanceOf(owner)).toBeNull();
    }
  });
});

describe('action auto', () => {
  it('credits a positive amount_cents and debits a negative one', async () => {
    const type = eventType();
    await engine.createTrigger({
      name: 'Adjust', on: { types: [type] },
      tasks: [
        { id: 'delta', type: 'script', code: 'return { amount_cents: data.delta };' },
        { id: 'adjust', type: 'account', action: 'auto', inputTaskId: 'delta', owner: '{{data.owner}}', createIfMissing: true, unit: 'USD' },
      ],
    });
    const owner = unique('user');
    await fund(owner, 1000);
    const [debited] = (await engine.sendAndSettle(event(type, { owner, delta: -300 }))).runs;
    expect(debited!.tasks[1].output).toMatchObject({ direction: 'debit', amount: 300, balanceAfter: 700 });
    const [credited] = (await engine.sendAndSettle(event(type, { owner, delta: 450 }))).runs;
    expect(credited!.tasks[1].output).toMatchObject({ direction: 'credit', amount: 450, balanceAfter: 1150 });
    const [zero] = (await engine.sendAndSettle(event(type, { owner, delta: 0 }))).runs;
    expect(zero!.tasks[1]).toMatchObject({ status: 'skipped', skipReason: 'the amount is 0' });
    expect(await engine.balanceOf(owner)).toBe(1150);
  });
});

describe('refusals', () => {
  it('fail the task at once with the ledger code, and a later retry of the same event posts nothing', async () => {
    const type = eventType();
    await engine.createTrigger({ name: 'Charge', on: { types: [type] }, tasks: [{ id: 'charge', type: 'account', action: 'debit', amountFrom: 'data.price', owner: '{{data.owner}}', unit: 'USD' }] });
    const owner = unique('user');
    await fund(owner, 500);
    const charge = event(type, { owner, price: 800 });
    const [run] = (await engine.sendAndSettle(charge)).runs;
    expect(run!.status).toBe('failed');
    expect(run!.tasks[0].error).toMatchObject({ code: 'insufficient_funds' });
    const missing = (await engine.sendAndSettle(event(type, { owner: unique('nobody'), price: 1 }))).runs[0]!;
    expect(missing.tasks[0].error).toMatchObject({ code: 'account_not_found' });
    const again = await engine.api.request('POST', '/v1/events', charge);
    expect(again.status).toBe(200);
    expect(await engine.balanceOf(owner)).toBe(500);
  });
});
