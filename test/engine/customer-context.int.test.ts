import { startEngineHarness, type EngineHarness } from '../support/engine-harness';

let harness: EngineHarness;

beforeAll(async () => {
  harness = await startEngineHarness('customer_context', { balanceEvents: true, balancePollMs: 100 });
  const { api } = harness;
  await api.request('PUT', '/v1/customers/gold_ada', { name: 'Ada', email: 'ada@example.com', attributes: { tier: 'gold' }, autoTopUp: { enabled: true, threshold: 500, amount: 2000, unit: 'USD' } });
  await api.request('PUT', '/v1/customers/silver_bob', { name: 'Bob', attributes: { tier: 'silver' }, autoTopUp: { enabled: true, threshold: 500, amount: 1500, unit: 'USD' } });
}, 120_000);
afterAll(async () => {
  await harness?.close();
});

/** Credits the customer's own auto top-up amount, for gold customers only; the script reports what it saw. */
const loyaltyTrigger = {
  name: 'Gold loyalty credit',
  on: { types: ['loyalty.earned'] },
  tasks: [
    { id: 'seen', type: 'script', code: 'return { name: customer ? customer.name : null, balance: account ? account.balance : null };' },
    { id: 'credit', type: 'account', action: 'credit', owner: '{{customer.ownerId}}', amountFrom: 'customer.autoTopUp.amount', unit: 'USD', createIfMissing: true, when: { 'customer.attributes.tier': 'gold' } },
  ],
};

describe('a run of an event that names an owner', () => {
  beforeAll(async () => {
    await harness.createTrigger(loyaltyTrigger);
  });

  it('sees the customer profile and the account: templates, amountFrom, when and scripts', async () => {
    await harness.api.request('POST', '/v1/accounts/gold_ada/entries', { unit: 'USD', direction: 'credit', amount: 300, idempotencyKey: 'seed-ada', createIfMissing: true });
    const { runs } = await harness.sendAndSettle({ id: 'loyal-ada', type: 'loyalty.earned', data: { ownerId: 'gold_ada' } });
    expect(runs[0]).toMatchObject({ status: 'completed', tasks: [
      { id: 'seen', status: 'completed', output: { name: 'Ada', balance: 300 } },
      { id: 'credit', status: 'completed' },
    ] });
    expect(await harness.balanceOf('gold_ada', 'USD')).toBe(2300);
  });

  it('skips a task whose `when` on customer attributes does not match', async () => {
    const { runs } = await harness.sendAndSettle({ id: 'loyal-bob', type: 'loyalty.earned', data: { customer: { id: 'silver_bob' } } });
    expect(runs[0]).toMatchObject({ status: 'completed', tasks: [{ id: 'seen', output: { name: 'Bob', balance: null } }, { id: 'credit', status: 'skipped' }] });
    expect(await harness.balanceOf('silver_bob', 'USD')).toBeNull();
  });

  it('finds the owner of a reservation, and has no customer when the owner has no profile', async () => {
    // Ada is gold: this run credits her 2,000 as well (4,300 after it).
    const ada = await harness.sendAndSettle({ id: 'loyal-res', type: 'loyalty.earned', data: { reservation: { user: { id: 'gold_ada' } } } });
    expect(ada.runs[0]!.tasks[0].output).toEqual({ name: 'Ada', balance: 2300 });
    const stranger = await harness.sendAndSettle({ id: 'loyal-stranger', type: 'loyalty.earned', data: { ownerId: 'stranger' } });
    // No profile: `customer` is absent, so amountFrom cannot resolve and `when` does not match.
    expect(stranger.runs[0]).toMatchObject({ tasks: [{ output: { name: null, balance: null } }, { status: 'skipped' }] });
  });

  it('is simulated by the dry run with the same context', async () => {
    const dryRun = await harness.api.request('POST', '/v1/triggers/dry-run', { event: { type: 'loyalty.earned', data: { ownerId: 'gold_ada' } } });
    expect(dryRun.status).toBe(200);
    expect(dryRun.body.matched[0].tasks).toEqual([
      expect.objectContaining({ id: 'seen', outcome: 'would_complete', output: { name: 'Ada', balance: 4300 } }),
      expect.objectContaining({ id: 'credit', outcome: 'would_complete' }),
    ]);
    const silver = await harness.api.request('POST', '/v1/triggers/dry-run', { event: { type: 'loyalty.earned', data: { ownerId: 'silver_bob' } } });
    expect(silver.body.matched[0].tasks[1]).toMatchObject({ outcome: 'would_skip' });
  });
});

it('a balance event\'s run sees the customer, so a threshold top-up reads {{customer.autoTopUp.threshold}}', async () => {
  await harness.createTrigger({
    name: 'Own-threshold top-up',
    on: { types: ['account.balance_changed'], filter: { 'data.entry.direction': 'debit' } },
    tasks: [
      { id: 'check', type: 'script', code: 'return { low: customer !== undefined && customer.autoTopUp.enabled && data.after <= customer.autoTopUp.threshold };' },
      { id: 'topup', type: 'account', action: 'credit', owner: '{{account.ownerId}}', amountFrom: 'customer.autoTopUp.amount', unitFrom: 'account.unit', when: { 'tasks.check.low': true } },
    ],
  });
  await harness.api.request('POST', '/v1/accounts/silver_bob/entries', { unit: 'USD', direction: 'credit', amount: 1000, idempotencyKey: 'seed-bob', createIfMissing: true });
  await harness.api.request('POST', '/v1/accounts/silver_bob/entries', { unit: 'USD', direction: 'debit', amount: 600, idempotencyKey: 'spend-bob' });
  // 1000 - 600 = 400 <= 500: the run credits Bob's own 1500.
  const deadline = Date.now() + 60_000;
  while ((await harness.balanceOf('silver_bob', 'USD')) !== 1900 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  expect(await harness.balanceOf('silver_bob', 'USD')).toBe(1900);
}, 120_000);
