// The transfer task on a real API, worker and ledger: both entries once,
// paired by transferId and counterparty, and nothing moved when it is refused.
import { randomUUID } from 'node:crypto';
import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let engine: EngineHarness;
let type: string;
const master = `partner_master_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  engine = await startEngineHarness('transfer_task');
  type = `topup${randomUUID().slice(0, 8)}.requested`;
  await engine.createTrigger({
    name: 'Partner pays the top-up', on: { types: [type] },
    tasks: [{ id: 'move', type: 'transfer', from: '{{data.from}}', to: '{{data.customer}}', amountFrom: 'data.amount', unit: 'USD', createIfMissing: true, comment: 'Partner top-up' }],
  });
  const funded = await engine.api.request('POST', `/v1/accounts/${master}/entries`, { unit: 'USD', direction: 'credit', amount: 10_000, idempotencyKey: `fund-${master}`, createIfMissing: true });
  expect(funded.status).toBe(201);
});

afterAll(async () => {
  await engine?.close();
});

const send = (data: Record<string, unknown>) => engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data });

describe('transfer', () => {
  it('debits from and credits to once, both entries sharing a transferId and naming each other', async () => {
    const customer = `cust_${randomUUID().slice(0, 8)}`;
    const before = (await engine.balanceOf(master))!;
    const [run] = (await send({ from: master, customer, amount: 2500 })).runs;
    expect(run!.status).toBe('completed');
    const output = run!.tasks[0].output;
    expect(output).toMatchObject({ fromOwnerId: master, toOwnerId: customer, unit: 'USD', amount: 2500, fromBalanceAfter: before - 2500, toBalanceAfter: 2500, replayed: false });
    expect(output.transferId).toBe(`${run!.workflowId}:move`);

    const customerEntries = (await engine.api.request('GET', `/v1/accounts/${customer}/entries?unit=USD`)).body.items;
    expect(customerEntries).toHaveLength(1);
    expect(customerEntries[0]).toMatchObject({ id: output.creditEntryId, direction: 'credit', amount: 2500, transferId: output.transferId, counterparty: { ownerId: master, unit: 'USD' } });
    const masterEntries = (await engine.api.request('GET', `/v1/accounts/${master}/entries?unit=USD&limit=100`)).body.items as Array<{ id: string; transferId?: string }>;
    expect(masterEntries.filter((entry) => entry.transferId === output.transferId)).toEqual([expect.objectContaining({ id: output.debitEntryId, direction: 'debit', amount: 2500, counterparty: { ownerId: customer, unit: 'USD' } })]);
    expect(await engine.balanceOf(master)).toBe(before - 2500);
  });

  it('fails with transfer_same_account when both sides resolve to one owner, moving nothing', async () => {
    const before = await engine.balanceOf(master);
    const [run] = (await send({ from: master, customer: master, amount: 100 })).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'transfer_same_account' } });
    expect(await engine.balanceOf(master)).toBe(before);
  });

  it("fails with the from account's refusal when it cannot pay, crediting nothing", async () => {
    const customer = `cust_${randomUUID().slice(0, 8)}`;
    const before = (await engine.balanceOf(master))!;
    const [run] = (await send({ from: master, customer, amount: before + 1 })).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'failed', error: { code: 'insufficient_funds' } });
    expect(await engine.balanceOf(master)).toBe(before);
    expect(await engine.balanceOf(customer)).toBeNull();
  });

  it('moves exactly the balance the from account holds', async () => {
    const poor = `poor_${randomUUID().slice(0, 8)}`;
    await engine.api.request('POST', `/v1/accounts/${poor}/entries`, { unit: 'USD', direction: 'credit', amount: 300, idempotencyKey: `fund-${poor}`, createIfMissing: true });
    const customer = `cust_${randomUUID().slice(0, 8)}`;
    const [run] = (await send({ from: poor, customer, amount: 300 })).runs;
    expect(run!.tasks[0]).toMatchObject({ status: 'completed', output: { fromBalanceAfter: 0, toBalanceAfter: 300 } });
  });
});
